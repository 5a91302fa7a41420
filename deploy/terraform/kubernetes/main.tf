################################################################################
# Runyard on Kubernetes: namespace, Secrets, the Helm release
################################################################################

locals {
  namespace         = var.create_namespace ? kubernetes_namespace_v1.main[0].metadata[0].name : var.namespace
  connection_secret = "${var.release_name}-connection"
  keys_secret       = "${var.release_name}-keys"
}

module "values" {
  source = "./modules/values"

  host                       = var.host
  bucket                     = var.bucket
  bucket_aws_region          = var.bucket_aws_region
  bucket_kms_key_arn         = var.bucket_kms_key_arn
  bucket_queue               = var.bucket_queue
  database_connection_string = var.database_connection_string
  database_password_secret   = var.database_password_secret
  has_redis                  = nonsensitive(var.redis != "")
  has_license                = nonsensitive(var.license != "")
  runyard_version            = var.runyard_version
  image_repository           = var.image_repository
  replicas                   = var.replicas
  max_replicas               = var.max_replicas
  resources                  = var.resources
  service_account_role_arn   = var.service_account_role_arn
  ingress                    = var.ingress
  connection_secret          = local.connection_secret
  keys_secret                = local.keys_secret
}

resource "kubernetes_namespace_v1" "main" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name = var.namespace
    labels = {
      "pod-security.kubernetes.io/enforce" = "restricted"
    }
  }
}

# Connection strings may carry passwords, so they live in a Secret the chart references.
resource "kubernetes_secret_v1" "connection" {
  metadata {
    name      = local.connection_secret
    namespace = local.namespace
  }

  data = merge(
    { "database-url" = module.values.database_url },
    var.redis == "" ? {} : { "cache-url" = var.redis },
    var.license == "" ? {} : { "license" = var.license },
  )
}

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

resource "random_password" "admin_api_key" {
  length  = 48
  special = false
}

resource "kubernetes_secret_v1" "keys" {
  metadata {
    name      = local.keys_secret
    namespace = local.namespace
  }

  data = {
    "secret-key"    = random_password.secret_key.result
    "admin-api-key" = "local-${random_password.admin_api_key.result}"
  }
}

resource "helm_release" "runyard" {
  name             = var.release_name
  namespace        = local.namespace
  chart            = coalesce(var.chart, "${path.module}/../../helm/runyard")
  create_namespace = false
  wait             = true
  atomic           = true
  cleanup_on_fail  = true
  timeout          = var.helm_timeout

  values = [
    yamlencode(module.values.helm_values),
    yamlencode(var.extra_values),
  ]

  depends_on = [kubernetes_secret_v1.connection, kubernetes_secret_v1.keys]
}
