################################################################################
# The seed's `wandb_app` inputs
################################################################################

variable "license" {
  type        = string
  default     = ""
  sensitive   = true
  description = "License key (RUNYARD_LICENSE); kept in a Kubernetes Secret, accepted for compatibility."
}

variable "host" {
  type        = string
  description = "https:// URL of the instance: the infra module's `url`."
}

variable "bucket" {
  type        = string
  description = "s3://BUCKET as in the seed (\"s3://${module.infra.bucket_name}\")."
}

variable "bucket_aws_region" {
  type        = string
  description = "Region of the bucket: the infra module's `bucket_region`."
}

variable "bucket_queue" {
  type        = string
  default     = "internal://"
  description = "internal:// (embedded queue) or sqs://QUEUE: the infra module's `bucket_queue`."
}

variable "database_connection_string" {
  type        = string
  sensitive   = true
  description = "mysql://user@host:port/db (the seed's \"mysql://${module.infra.database_connection_string}\"). A password in it is allowed: the URL is stored in a Kubernetes Secret."
}

variable "redis" {
  type        = string
  default     = ""
  sensitive   = true
  description = "rediss://:token@host:6379 (the infra module's `redis_connection_string`); empty means the in-process cache."
}

variable "runyard_version" {
  type        = string
  default     = null
  description = "Runyard version (image tag) to run: the upgrade knob, like `wandb_version` in the seed. Null means the chart's appVersion."
}

################################################################################
# Beyond the seed
################################################################################

variable "database_password_secret" {
  type        = string
  default     = ""
  description = "Secrets Manager secret with the database password: the infra module's `database_password_secret_arn`."
}

variable "bucket_kms_key_arn" {
  type        = string
  default     = ""
  description = "KMS key for SSE-KMS on uploads: the infra module's `kms_key_arn`."
}

variable "service_account_role_arn" {
  type        = string
  default     = ""
  description = "IAM role for the app's service accounts (IRSA): the infra module's `app_role_arn`."
}

variable "ingress" {
  type = object({
    host               = string
    certificate_arn    = string
    scheme             = string
    security_group_ids = list(string)
    inbound_cidrs      = list(string)
    inbound_ipv6_cidrs = list(string)
    proxy_cidrs        = optional(list(string), [])
  })
  default     = null
  description = "The infra module's `ingress` output (ALB through the AWS Load Balancer Controller); null means no Ingress."
}

variable "replicas" {
  type        = number
  default     = 2
  description = "Replicas of the server (the minimum when autoscaling)."
}

variable "max_replicas" {
  type        = number
  default     = 2
  description = "Autoscale on CPU up to this many replicas (a HorizontalPodAutoscaler; needs metrics-server in the cluster). Equal to replicas turns autoscaling off."
}

variable "resources" {
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  default = {
    requests = { cpu = "500m", memory = "512Mi" }
    limits   = { cpu = "2", memory = "2Gi" }
  }
  description = "Container resources of each replica."
}

variable "namespace" {
  type        = string
  default     = "runyard"
  description = "Kubernetes namespace (the infra module's IAM role trusts service accounts in `runyard`)."
}

variable "create_namespace" {
  type        = bool
  default     = true
  description = "Create the namespace."
}

variable "release_name" {
  type        = string
  default     = "runyard"
  description = "Helm release name; also the service account's name, which the IAM role trusts."
}

variable "chart" {
  type        = string
  default     = null
  description = "Chart location; null means the chart in this repository (deploy/helm/runyard)."
}

variable "image_repository" {
  type        = string
  default     = "ghcr.io/runyard/runyard"
  description = "Container image repository."
}

variable "helm_timeout" {
  type        = number
  default     = 900
  description = "Seconds Helm waits for the migration hook and the rollout."
}

variable "extra_values" {
  type        = any
  default     = {}
  description = "More chart values, merged last (escape hatch for anything values.yaml offers). Secrets still go by reference."
}
