variable "host" {
  type        = string
  description = "https:// URL of the instance (the infra module's `url`)."

  validation {
    condition     = can(regex("^https?://[^/@:]+(:[0-9]+)?/?$", var.host))
    error_message = "host must be a URL such as https://runyard.example.com (no path, no credentials)."
  }
}

variable "bucket" {
  type        = string
  description = "s3://BUCKET[/PREFIX] (a bare bucket name is accepted) or file:///PATH."

  validation {
    condition     = can(regex("^(s3://|file:///)?[^@:]+$", var.bucket))
    error_message = "bucket must be s3://BUCKET, a bucket name, or file:///PATH, without credentials."
  }
}

variable "bucket_aws_region" {
  type        = string
  default     = ""
  description = "Region of the bucket."
}

variable "bucket_kms_key_arn" {
  type        = string
  default     = ""
  description = "KMS key for SSE-KMS on uploads (empty: the bucket's default encryption)."
}

variable "bucket_queue" {
  type        = string
  default     = "internal://"
  description = "internal:// or sqs://QUEUE_NAME_OR_URL."

  validation {
    condition     = var.bucket_queue == "internal://" || can(regex("^sqs://.+", var.bucket_queue))
    error_message = "bucket_queue must be internal:// or sqs://QUEUE."
  }
}

variable "database_connection_string" {
  type        = string
  sensitive   = true
  description = "mysql://user[:password]@host:port/db, or user@host:port/db as the infra module outputs it."
}

variable "database_password_secret" {
  type        = string
  default     = ""
  description = "Secrets Manager secret (name or ARN) holding the database password."
}

variable "has_redis" {
  type        = bool
  default     = false
  description = "A Redis connection string is given (it goes into the connection Secret)."
}

variable "has_license" {
  type        = bool
  default     = false
  description = "A license is given (it goes into the connection Secret)."
}

variable "runyard_version" {
  type        = string
  default     = null
  description = "Image tag to deploy; null means the chart's appVersion."
}

variable "image_repository" {
  type        = string
  default     = "ghcr.io/runyard/runyard"
  description = "Container image repository."
}

variable "replicas" {
  type        = number
  default     = 2
  description = "Replicas (the minimum when autoscaling)."
}

variable "max_replicas" {
  type        = number
  default     = 0
  description = "Autoscale on CPU up to this many replicas; 0 turns autoscaling off."
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

variable "service_account_role_arn" {
  type        = string
  default     = ""
  description = "IAM role for the service accounts (IRSA)."
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
  description = "The infra module's `ingress` output; null means no Ingress."
}

variable "connection_secret" {
  type        = string
  description = "Name of the Secret that holds database-url, cache-url and license."
}

variable "keys_secret" {
  type        = string
  description = "Name of the Secret that holds secret-key and admin-api-key."
}
