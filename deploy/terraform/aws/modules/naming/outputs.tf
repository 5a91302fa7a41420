output "fqdn" {
  description = "Host name of the instance: subdomain.domain_name, or domain_name."
  value       = local.fqdn
}

output "url" {
  description = "https:// URL of the instance (RUNYARD_PUBLIC_URL and the bucket's CORS origin)."
  value       = "https://${local.fqdn}"
}

output "names" {
  description = "Resource names and prefixes, all starting with the namespace."
  value       = local.names
}

output "inbound_cidrs" {
  description = "Every CIDR allowed to reach the load balancer, IPv4 first."
  value       = concat(var.allowed_inbound_cidr, var.allowed_inbound_ipv6_cidr)
}

output "dual_stack" {
  description = "True when IPv6 clients are allowed, so the load balancer needs IPv6."
  value       = length(var.allowed_inbound_ipv6_cidr) > 0
}
