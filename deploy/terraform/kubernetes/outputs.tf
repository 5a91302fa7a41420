output "namespace" {
  description = "Kubernetes namespace of the release."
  value       = local.namespace
}

output "release_name" {
  description = "Name of the Helm release."
  value       = helm_release.runyard.name
}

output "runyard_version" {
  description = "Version (image tag) the release runs."
  value       = coalesce(var.runyard_version, yamldecode(file("${path.module}/../../helm/runyard/Chart.yaml")).appVersion)
}

output "admin_api_key" {
  description = "API key of the first admin user (`wandb login --host <url> <key>`)."
  value       = kubernetes_secret_v1.keys.data["admin-api-key"]
  sensitive   = true
}
