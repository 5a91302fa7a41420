# The seed's recommended deployment ("デプロイメント - 推奨"), with Runyard's modules.
# Differences from the W&B guide: module sources are local paths; the app module also gets
# the database password secret, the KMS key, the IAM role and the ALB settings, which the
# W&B modules pass between themselves.

module "runyard_infra" {
  source = "../../aws"

  namespace                 = var.namespace
  domain_name               = var.domain_name
  subdomain                 = var.subdomain
  zone_id                   = var.zone_id
  allowed_inbound_cidr      = var.allowed_inbound_cidr
  allowed_inbound_ipv6_cidr = var.allowed_inbound_ipv6_cidr

  public_access                  = true
  external_dns                   = true
  kubernetes_public_access       = true
  kubernetes_public_access_cidrs = var.kubernetes_public_access_cidrs

  # The seed's optional components, as toggles.
  create_elasticache_subnet = var.enable_redis
  use_internal_queue        = !var.enable_external_queue
}

data "aws_eks_cluster" "app_cluster" {
  name = module.runyard_infra.cluster_id
}

data "aws_eks_cluster_auth" "app_cluster" {
  name = module.runyard_infra.cluster_id
}

provider "kubernetes" {
  host                   = data.aws_eks_cluster.app_cluster.endpoint
  cluster_ca_certificate = base64decode(data.aws_eks_cluster.app_cluster.certificate_authority[0].data)
  token                  = data.aws_eks_cluster_auth.app_cluster.token
}

provider "helm" {
  kubernetes = {
    host                   = data.aws_eks_cluster.app_cluster.endpoint
    cluster_ca_certificate = base64decode(data.aws_eks_cluster.app_cluster.certificate_authority[0].data)
    token                  = data.aws_eks_cluster_auth.app_cluster.token
  }
}

module "runyard_app" {
  source = "../../kubernetes"

  license                    = var.license
  host                       = module.runyard_infra.url
  bucket                     = "s3://${module.runyard_infra.bucket_name}"
  bucket_aws_region          = module.runyard_infra.bucket_region
  bucket_queue               = module.runyard_infra.bucket_queue
  database_connection_string = "mysql://${module.runyard_infra.database_connection_string}"
  redis                      = module.runyard_infra.redis_connection_string
  runyard_version            = var.runyard_version

  database_password_secret = module.runyard_infra.database_password_secret_arn
  bucket_kms_key_arn       = module.runyard_infra.kms_key_arn
  service_account_role_arn = module.runyard_infra.app_role_arn
  ingress                  = module.runyard_infra.ingress

  # If we don't wait, Terraform starts deploying while the node group is still spinning up.
  depends_on = [module.runyard_infra]
}
