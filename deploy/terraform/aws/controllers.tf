################################################################################
# In-cluster controllers: AWS Load Balancer Controller (the ALB) and external-dns
# The helm provider is configured by the caller from this module's cluster outputs.
################################################################################

resource "helm_release" "load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  namespace  = "kube-system"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = var.load_balancer_controller_chart_version
  wait       = true

  values = [yamlencode({
    clusterName  = aws_eks_cluster.main.name
    region       = local.region
    vpcId        = aws_vpc.main.id # nodes allow one metadata hop, so pods cannot ask IMDS
    replicaCount = 2
    enableShield = false
    enableWaf    = false
    enableWafv2  = false
    serviceAccount = {
      create      = true
      name        = local.lbc_service_account
      annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.load_balancer_controller.arn }
    }
  })]

  depends_on = [aws_eks_node_group.main, aws_iam_role_policy.load_balancer_controller]
}

resource "helm_release" "external_dns" {
  count = var.external_dns ? 1 : 0

  name       = "external-dns"
  namespace  = "kube-system"
  repository = "https://kubernetes-sigs.github.io/external-dns/"
  chart      = "external-dns"
  version    = var.external_dns_chart_version
  wait       = true

  values = [yamlencode({
    provider      = { name = "aws" }
    sources       = ["ingress"]
    policy        = "upsert-only"
    registry      = "txt"
    txtOwnerId    = local.names.cluster
    domainFilters = [var.domain_name]
    extraArgs     = ["--zone-id-filter=${var.zone_id}", "--aws-zone-type=public"]
    env           = [{ name = "AWS_DEFAULT_REGION", value = local.region }]
    serviceAccount = {
      create      = true
      name        = "external-dns"
      annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.external_dns[0].arn }
    }
  })]

  depends_on = [aws_eks_node_group.main, aws_iam_role_policy.external_dns]
}
