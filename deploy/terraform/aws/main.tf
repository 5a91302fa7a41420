################################################################################
# Names, account facts, the KMS key
################################################################################

module "naming" {
  source = "./modules/naming"

  namespace                 = var.namespace
  domain_name               = var.domain_name
  subdomain                 = var.subdomain
  allowed_inbound_cidr      = var.allowed_inbound_cidr
  allowed_inbound_ipv6_cidr = var.allowed_inbound_ipv6_cidr
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  names      = module.naming.names
  fqdn       = module.naming.fqdn
  url        = module.naming.url
  tags       = merge({ "runyard.dev/namespace" = var.namespace }, var.tags)

  # Service accounts the app's IAM role trusts: the server and the migration hook.
  app_service_accounts = [
    "system:serviceaccount:${var.app_namespace}:${var.app_service_account}",
    "system:serviceaccount:${var.app_namespace}:${var.app_service_account}-migrate",
  ]
}

# One customer-managed key encrypts the bucket, the queue, the database, its secret, Redis,
# the Kubernetes secrets, the node volumes and the logs.
resource "aws_kms_key" "main" {
  description             = "Runyard ${var.namespace}: bucket, queue, database, Redis, EKS secrets, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  # A key policy's "*" resource means this key. The account administers the key through IAM;
  # the services below may use it only on behalf of this account.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersTheKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsThisModulesLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        Sid       = "S3SendsNotificationsToTheEncryptedQueue"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "AutoScalingUsesTheKeyForNodeVolumes"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
        Resource  = "*"
      },
    ]
  })

  tags = local.tags
}

resource "aws_kms_alias" "main" {
  name          = local.names.kms_alias
  target_key_id = aws_kms_key.main.key_id
}
