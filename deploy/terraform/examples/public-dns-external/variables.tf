# The seed's variables (same names), plus the region and the optional toggles.

variable "namespace" {
  type        = string
  description = "Name prefix used for resources"
}

variable "domain_name" {
  type        = string
  description = "Domain name used to access instance."
}

variable "subdomain" {
  type        = string
  default     = null
  description = "Subdomain for accessing the Runyard UI."
}

variable "license" {
  type        = string
  default     = ""
  sensitive   = true
  description = "License key (accepted for compatibility with the W&B variables; nothing is locked)."
}

variable "zone_id" {
  type        = string
  description = "Route53 zone of domain_name, where the Runyard subdomain is created."
}

variable "allowed_inbound_cidr" {
  description = "CIDRs allowed to access Runyard."
  nullable    = false
  type        = list(string)
}

variable "allowed_inbound_ipv6_cidr" {
  description = "IPv6 CIDRs allowed to access Runyard."
  nullable    = false
  type        = list(string)
}

variable "region" {
  type        = string
  default     = "eu-central-1"
  description = "AWS region to deploy into."
}

variable "kubernetes_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the EKS API, where Terraform and kubectl run from. The seed uses [\"0.0.0.0/0\"]; narrow it to your network."
}

variable "enable_redis" {
  type        = bool
  default     = false
  description = "The seed's \"Enable REDIS\" option (create_elasticache_subnet = true): ElastiCache Redis as the query cache."
}

variable "enable_external_queue" {
  type        = bool
  default     = false
  description = "The seed's \"message broker\" option (use_internal_queue = false): an SQS queue for the bucket's notifications."
}

variable "runyard_version" {
  type        = string
  default     = null
  description = "Runyard version to run (the upgrade knob, like wandb_version); null means the chart's default."
}
