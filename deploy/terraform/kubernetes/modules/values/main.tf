# Turns the seed's `wandb_app` inputs into the Runyard chart's values. No provider, so the
# mapping is validated and tested offline (tests/values.tftest.hcl).

locals {
  # The infra module outputs user@host:port/db; the seed prefixes it with mysql://.
  database_url = strcontains(var.database_connection_string, "://") ? var.database_connection_string : "mysql://${var.database_connection_string}"
  blob_url     = can(regex("^(s3|file)://", var.bucket)) ? var.bucket : "s3://${var.bucket}"
  autoscaling  = var.max_replicas > var.replicas

  # Branches of different shapes go through JSON, so both sides of `? :` are strings.
  ingress = jsondecode(var.ingress == null ? jsonencode({ enabled = false }) : jsonencode({
    enabled = true
    host    = try(var.ingress.host, "")
    alb = {
      scheme           = try(var.ingress.scheme, "internet-facing")
      certificateArn   = try(var.ingress.certificate_arn, "")
      securityGroups   = try(var.ingress.security_group_ids, [])
      inboundCidrs     = try(var.ingress.inbound_cidrs, [])
      inboundIpv6Cidrs = try(var.ingress.inbound_ipv6_cidrs, [])
    }
  }))
  cache = jsondecode(var.has_redis ? jsonencode({
    existingSecret    = var.connection_secret
    existingSecretKey = "cache-url"
  }) : jsonencode({}))
  license = jsondecode(var.has_license ? jsonencode({
    existingSecret    = var.connection_secret
    existingSecretKey = "license"
  }) : jsonencode({}))
  image = jsondecode(var.runyard_version == null ? jsonencode({
    repository = var.image_repository
    }) : jsonencode({
    repository = var.image_repository
    tag        = var.runyard_version
  }))
  annotations = var.service_account_role_arn == "" ? {} : { "eks.amazonaws.com/role-arn" = var.service_account_role_arn }

  helm_values = {
    replicaCount = var.replicas
    image        = local.image
    runyard = {
      publicUrl = trimsuffix(var.host, "/")
      # Behind the ALB the socket's peer is the ALB: believe its X-Forwarded-For.
      trustedProxies = var.ingress == null ? "" : join(",", var.ingress.proxy_cidrs)
      database = {
        existingSecret    = var.connection_secret
        existingSecretKey = "database-url"
        passwordSecret    = var.database_password_secret
      }
      blobStore = {
        url    = local.blob_url
        region = var.bucket_aws_region
        kmsKey = var.bucket_kms_key_arn
      }
      queue          = { url = var.bucket_queue }
      cache          = local.cache
      existingSecret = var.keys_secret
      license        = local.license
    }
    serviceAccount = {
      create      = true
      annotations = local.annotations
    }
    resources = var.resources
    autoscaling = {
      enabled     = local.autoscaling
      minReplicas = var.replicas
      maxReplicas = max(var.max_replicas, var.replicas)
    }
    ingress = local.ingress
    topologySpreadConstraints = [{
      maxSkew           = 1
      topologyKey       = "topology.kubernetes.io/zone"
      whenUnsatisfiable = "ScheduleAnyway"
      labelSelector     = { matchLabels = { "app.kubernetes.io/name" = "runyard" } }
    }]
  }
}
