variable "namespace" {
  type        = string
  description = "Prefix of every resource name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.namespace))
    error_message = "namespace must be 3-20 characters: lowercase letters, digits and '-', starting with a letter (it prefixes bucket, cluster and database names)."
  }
}

variable "domain_name" {
  type        = string
  description = "Domain the instance is reached under, e.g. example.com."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a DNS name such as example.com (lowercase, no trailing dot)."
  }
}

variable "subdomain" {
  type        = string
  default     = null
  description = "Label in front of domain_name; null means the instance answers on domain_name itself."

  validation {
    condition     = var.subdomain == null || can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.subdomain))
    error_message = "subdomain must be a single DNS label (lowercase letters, digits and '-')."
  }
}

variable "allowed_inbound_cidr" {
  type        = list(string)
  nullable    = false
  description = "IPv4 CIDRs allowed to reach the load balancer."

  validation {
    condition     = alltrue([for c in var.allowed_inbound_cidr : can(cidrnetmask(c))])
    error_message = "allowed_inbound_cidr must hold IPv4 CIDRs such as 203.0.113.0/24."
  }
}

variable "allowed_inbound_ipv6_cidr" {
  type        = list(string)
  nullable    = false
  description = "IPv6 CIDRs allowed to reach the load balancer."

  validation {
    condition     = alltrue([for c in var.allowed_inbound_ipv6_cidr : can(cidrhost(c, 0)) && strcontains(c, ":")])
    error_message = "allowed_inbound_ipv6_cidr must hold IPv6 CIDRs such as 2001:db8::/32."
  }
}
