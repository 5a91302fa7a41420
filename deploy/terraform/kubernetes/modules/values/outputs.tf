output "helm_values" {
  description = "Values for the Runyard chart; every secret is referenced by Secret name, none is inline."
  value       = local.helm_values
}

output "database_url" {
  description = "The database URL for the connection Secret (mysql:// added when missing)."
  value       = local.database_url
  sensitive   = true
}
