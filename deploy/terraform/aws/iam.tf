################################################################################
# Roles for service accounts (IRSA): the app, the load balancer controller, external-dns
################################################################################

data "aws_iam_policy_document" "app_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = local.app_service_accounts
    }
  }
}

resource "aws_iam_role" "app" {
  name_prefix        = "${var.namespace}-app-"
  description        = "Runyard ${var.namespace}: this bucket, queue, key and database secret only"
  assume_role_policy = data.aws_iam_policy_document.app_assume.json
  tags               = local.tags
}

# This bucket, this queue, this key and the database's secret: nothing else.
data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ListTheBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.files.arn]
  }

  statement {
    sid = "ReadAndWriteObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.files.arn}/*"]
  }

  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.main.arn]
  }

  statement {
    sid       = "ReadTheDatabasePassword"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_rds_cluster.main.master_user_secret[0].secret_arn]
  }

  dynamic "statement" {
    for_each = var.use_internal_queue ? [] : [aws_sqs_queue.file_events[0].arn]
    content {
      sid = "ConsumeTheFileEvents"
      actions = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
      ]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "app" {
  name   = "runyard-app"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}

################################################################################
# AWS Load Balancer Controller
################################################################################

locals {
  lbc_service_account = "aws-load-balancer-controller"
  ec2_arn             = "arn:${local.partition}:ec2:${local.region}:${local.account_id}"
  elb_arn             = "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account_id}"
  elb_resources = [
    "${local.elb_arn}:loadbalancer/app/*/*",
    "${local.elb_arn}:targetgroup/*/*",
    "${local.elb_arn}:listener/app/*/*/*",
    "${local.elb_arn}:listener-rule/app/*/*/*/*",
  ]
  cluster_tag = "aws:ResourceTag/elbv2.k8s.aws/cluster"
  request_tag = "aws:RequestTag/elbv2.k8s.aws/cluster"
}

data "aws_iam_policy_document" "lbc_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:kube-system:${local.lbc_service_account}"]
    }
  }
}

resource "aws_iam_role" "load_balancer_controller" {
  name_prefix        = "${var.namespace}-lbc-"
  description        = "AWS Load Balancer Controller of ${local.names.cluster}"
  assume_role_policy = data.aws_iam_policy_document.lbc_assume.json
  tags               = local.tags
}

# Written for this module: ALBs only (no NLB, WAF, Shield or Cognito), in this account and
# region; anything it changes or deletes carries the controller's cluster tag.
data "aws_iam_policy_document" "load_balancer_controller" {
  statement {
    sid = "Discover"
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeVpcs",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeTags",
      "ec2:DescribeRouteTables",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeSSLPolicies",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTrustStores",
      "acm:ListCertificates",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ListSecurityGroupsOfThisVpc"
    actions   = ["ec2:GetSecurityGroupsForVpc"]
    resources = [aws_vpc.main.arn, "${local.ec2_arn}:security-group/*"]
  }

  statement {
    sid       = "ReadCertificates"
    actions   = ["acm:DescribeCertificate"]
    resources = ["arn:${local.partition}:acm:${local.region}:${local.account_id}:certificate/*"]
  }

  statement {
    sid       = "ServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/elasticloadbalancing.amazonaws.com/*"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid       = "CreateTaggedSecurityGroups"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = ["${local.ec2_arn}:security-group/*"]
    condition {
      test     = "Null"
      variable = local.request_tag
      values   = ["false"]
    }
  }

  statement {
    sid       = "CreateSecurityGroupsInThisVpc"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = [aws_vpc.main.arn]
  }

  statement {
    sid       = "TagNewSecurityGroups"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.ec2_arn}:security-group/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSecurityGroup"]
    }
    condition {
      test     = "Null"
      variable = local.request_tag
      values   = ["false"]
    }
  }

  statement {
    sid = "ManageOwnSecurityGroups"
    actions = [
      "ec2:CreateTags",
      "ec2:DeleteTags",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:DeleteSecurityGroup",
    ]
    resources = ["${local.ec2_arn}:security-group/*"]
    condition {
      test     = "Null"
      variable = local.cluster_tag
      values   = ["false"]
    }
  }

  # Backend rules: let the ALB's groups reach the pods on the cluster's security group.
  statement {
    sid       = "OpenTheClusterGroupToTheAlb"
    actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
    resources = ["${local.ec2_arn}:security-group/${local.cluster_sg_id}"]
  }

  statement {
    sid = "CreateTaggedLoadBalancers"
    actions = [
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:CreateTargetGroup",
    ]
    resources = [
      "${local.elb_arn}:loadbalancer/app/*/*",
      "${local.elb_arn}:targetgroup/*/*",
    ]
    condition {
      test     = "Null"
      variable = local.request_tag
      values   = ["false"]
    }
  }

  statement {
    sid = "TagOnCreate"
    actions = [
      "elasticloadbalancing:AddTags",
    ]
    resources = local.elb_resources
    condition {
      test     = "StringEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule"]
    }
  }

  statement {
    sid = "ManageOwnLoadBalancers"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetIpAddressType",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyListenerAttributes",
    ]
    resources = local.elb_resources
    condition {
      test     = "Null"
      variable = local.cluster_tag
      values   = ["false"]
    }
  }

  statement {
    sid = "ManageListenersAndTargets"
    actions = [
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:RemoveListenerCertificates",
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:DeleteRule",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:RegisterTargets",
      "elasticloadbalancing:DeregisterTargets",
    ]
    resources = local.elb_resources
  }
}

resource "aws_iam_role_policy" "load_balancer_controller" {
  name   = "aws-load-balancer-controller"
  role   = aws_iam_role.load_balancer_controller.id
  policy = data.aws_iam_policy_document.load_balancer_controller.json
}

################################################################################
# external-dns (external_dns = true): records in zone_id only
################################################################################

data "aws_iam_policy_document" "external_dns_assume" {
  count = var.external_dns ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:kube-system:external-dns"]
    }
  }
}

resource "aws_iam_role" "external_dns" {
  count = var.external_dns ? 1 : 0

  name_prefix        = "${var.namespace}-external-dns-"
  description        = "external-dns of ${local.names.cluster}: zone ${var.zone_id} only"
  assume_role_policy = data.aws_iam_policy_document.external_dns_assume[0].json
  tags               = local.tags
}

data "aws_iam_policy_document" "external_dns" {
  count = var.external_dns ? 1 : 0

  statement {
    sid = "ChangeRecordsInTheZone"
    actions = [
      "route53:ChangeResourceRecordSets",
      "route53:ListResourceRecordSets",
      "route53:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:route53:::hostedzone/${var.zone_id}"]
  }

  statement {
    sid       = "FindTheZone"
    actions   = ["route53:ListHostedZones"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "external_dns" {
  count = var.external_dns ? 1 : 0

  name   = "external-dns"
  role   = aws_iam_role.external_dns[0].id
  policy = data.aws_iam_policy_document.external_dns[0].json
}
