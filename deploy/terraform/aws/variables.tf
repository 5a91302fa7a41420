################################################################################
# The seed's inputs (same names as the W&B AWS module)
################################################################################

variable "namespace" {
  type        = string
  description = "Name prefix of every resource (3-20 characters: lowercase letters, digits, '-')."
}

variable "domain_name" {
  type        = string
  description = "Domain used to access the instance, e.g. example.com."
}

variable "subdomain" {
  type        = string
  default     = null
  description = "Subdomain for accessing Runyard; the FQDN is subdomain.domain_name (null: domain_name)."
}

variable "zone_id" {
  type        = string
  description = "Route53 hosted zone of domain_name, where the certificate's validation records (and, with external_dns, the instance's record) are created."
}

variable "allowed_inbound_cidr" {
  type        = list(string)
  nullable    = false
  description = "IPv4 CIDRs allowed to reach the load balancer. Required, as in the seed: [\"0.0.0.0/0\"] opens the instance to everyone."
}

variable "allowed_inbound_ipv6_cidr" {
  type        = list(string)
  nullable    = false
  description = "IPv6 CIDRs allowed to reach the load balancer (any entry makes it dual-stack). Required; [] means IPv4 only."
}

variable "public_access" {
  type        = bool
  default     = true
  description = "Internet-facing load balancer in the public subnets; false gives an internal one."
}

variable "external_dns" {
  type        = bool
  default     = false
  description = "Install external-dns (allowed to change only zone_id) so the instance's Route53 record follows the Ingress. False: create the record yourself (docs/deploy/aws.md)."
}

variable "kubernetes_public_access" {
  type        = bool
  default     = false
  description = "Expose the EKS API endpoint publicly (to kubernetes_public_access_cidrs). The private endpoint is always on."
}

variable "kubernetes_public_access_cidrs" {
  type        = list(string)
  default     = []
  description = "CIDRs allowed to reach the public EKS API endpoint when kubernetes_public_access is true."

  validation {
    condition     = alltrue([for c in var.kubernetes_public_access_cidrs : can(cidrnetmask(c))])
    error_message = "kubernetes_public_access_cidrs must hold IPv4 CIDRs."
  }
}

variable "create_elasticache_subnet" {
  type        = bool
  default     = false
  description = "Create ElastiCache subnets and a Redis replication group (TLS and auth token) for the query cache."
}

variable "use_internal_queue" {
  type        = bool
  default     = true
  description = "Use Runyard's embedded queue. False creates an SQS queue that receives the bucket's object-created notifications."
}

################################################################################
# Network
################################################################################

variable "network_cidr" {
  type        = string
  default     = "10.10.0.0/16"
  description = "CIDR of the VPC (a /16 leaves room for every subnet tier)."

  validation {
    condition     = can(cidrnetmask(var.network_cidr)) && endswith(var.network_cidr, "/16")
    error_message = "network_cidr must be an IPv4 /16."
  }
}

variable "availability_zone_count" {
  type        = number
  default     = 3
  description = "Availability zones to spread subnets, nodes, database and Redis over (2 or 3)."

  validation {
    condition     = contains([2, 3], var.availability_zone_count)
    error_message = "availability_zone_count must be 2 or 3."
  }
}

variable "availability_zones" {
  type        = list(string)
  default     = null
  description = "Zone names to use (null: <region>a, <region>b, <region>c); the first availability_zone_count available ones are used."
}

variable "database_allowed_cidr_blocks" {
  type        = list(string)
  default     = []
  description = "Extra private CIDRs (VPN, peered VPC) allowed to reach the database; the cluster's nodes are always allowed."

  validation {
    condition     = alltrue([for c in var.database_allowed_cidr_blocks : can(cidrnetmask(c)) && !endswith(c, "/0")])
    error_message = "database_allowed_cidr_blocks must be IPv4 CIDRs and never 0.0.0.0/0."
  }
}

variable "redis_allowed_cidr_blocks" {
  type        = list(string)
  default     = []
  description = "Extra private CIDRs allowed to reach Redis; the cluster's nodes are always allowed."

  validation {
    condition     = alltrue([for c in var.redis_allowed_cidr_blocks : can(cidrnetmask(c)) && !endswith(c, "/0")])
    error_message = "redis_allowed_cidr_blocks must be IPv4 CIDRs and never 0.0.0.0/0."
  }
}

################################################################################
# Sizes
################################################################################

variable "kubernetes_version" {
  type        = string
  default     = "1.31"
  description = "EKS Kubernetes version."
}

variable "kubernetes_instance_types" {
  type        = list(string)
  default     = ["m6i.large"]
  description = "Instance types of the node group."
}

variable "kubernetes_node_count" {
  type        = number
  default     = 2
  description = "Desired nodes in the node group."
}

variable "kubernetes_max_node_count" {
  type        = number
  default     = 4
  description = "Most nodes in the node group."
}

variable "kubernetes_node_disk_size" {
  type        = number
  default     = 50
  description = "Root volume of each node, GiB (encrypted with the module's KMS key)."
}

variable "database_engine_version" {
  type        = string
  default     = "8.0.mysql_aurora.3.08.2"
  description = "Aurora MySQL 3 engine version."

  validation {
    condition     = startswith(var.database_engine_version, "8.0.mysql_aurora.3.")
    error_message = "database_engine_version must be an Aurora MySQL 3 version (8.0.mysql_aurora.3.x)."
  }
}

variable "database_instance_class" {
  type        = string
  default     = "db.r6g.large"
  description = "Instance class of the Aurora instances."
}

variable "database_instance_count" {
  type        = number
  default     = 2
  description = "Aurora instances (one writer; the rest are readers in other zones for failover)."
}

variable "database_name" {
  type        = string
  default     = "runyard"
  description = "Database (schema) created in Aurora."
}

variable "database_master_username" {
  type        = string
  default     = "runyard"
  description = "Master user of Aurora; its password is generated and kept in Secrets Manager by RDS."
}

variable "database_backup_retention_days" {
  type        = number
  default     = 14
  description = "Days of point-in-time recovery."
}

variable "database_backtrack_hours" {
  type        = number
  default     = 24
  description = "Hours Aurora can rewind the database in place (backtrack), for quick recovery from a bad change."
}

variable "backup_retention_days" {
  type        = number
  default     = 35
  description = "Days AWS Backup keeps the database's daily recovery points (beyond point-in-time recovery)."
}

variable "deletion_protection" {
  type        = bool
  default     = true
  description = "Protect the database and the bucket's contents from `terraform destroy`."
}

variable "elasticache_node_type" {
  type        = string
  default     = "cache.t4g.medium"
  description = "Node type of the Redis replication group."
}

variable "log_retention_days" {
  type        = number
  default     = 365
  description = "Retention of the VPC flow logs and EKS control-plane logs."
}

variable "noncurrent_version_retention_days" {
  type        = number
  default     = 30
  description = "Days the bucket keeps overwritten or deleted object versions."
}

################################################################################
# Kubernetes add-ons and the app's identity
################################################################################

variable "app_namespace" {
  type        = string
  default     = "runyard"
  description = "Kubernetes namespace the app module installs into (the IAM role trusts its service accounts only)."
}

variable "app_service_account" {
  type        = string
  default     = "runyard"
  description = "Service account of the app; the migration hook uses <name>-migrate."
}

variable "load_balancer_controller_chart_version" {
  type        = string
  default     = "1.11.0"
  description = "Version of the aws-load-balancer-controller Helm chart."
}

variable "external_dns_chart_version" {
  type        = string
  default     = "1.15.0"
  description = "Version of the external-dns Helm chart (with external_dns = true)."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags for every resource."
}
