output "bucket_name" {
  description = "S3 bucket for files."
  value       = module.runyard_infra.bucket_name
}

output "url" {
  description = "URL of Runyard: `wandb login --host <url> <admin_api_key>`."
  value       = module.runyard_infra.url
}

output "admin_api_key" {
  description = "API key of the admin user: terraform output -raw admin_api_key"
  value       = module.runyard_app.admin_api_key
  sensitive   = true
}
