################################################################################
# The seed's outputs
################################################################################

output "cluster_id" {
  description = "Name of the EKS cluster (what `data \"aws_eks_cluster\"` takes, as in the seed)."
  value       = aws_eks_cluster.main.name
}

output "url" {
  description = "https:// URL of the instance."
  value       = local.url
}

output "bucket_name" {
  description = "Name of the S3 bucket for files."
  value       = aws_s3_bucket.files.id
}

output "bucket_region" {
  description = "Region of the bucket."
  value       = local.region
}

output "bucket_queue" {
  description = "Queue URL for the app: internal://, or sqs://<queue name> with use_internal_queue = false."
  value       = var.use_internal_queue ? "internal://" : "sqs://${aws_sqs_queue.file_events[0].name}"
}

output "database_connection_string" {
  description = "user@host:port/database of the Aurora writer, without a password (the seed's form: prefix it with mysql://). The password is in database_password_secret_arn."
  value       = "${aws_rds_cluster.main.master_username}@${aws_rds_cluster.main.endpoint}:${aws_rds_cluster.main.port}/${aws_rds_cluster.main.database_name}"
  sensitive   = true
}

output "redis_connection_string" {
  description = "rediss://:token@host:6379 of the ElastiCache primary (TLS), or \"\" without create_elasticache_subnet."
  value       = try("rediss://:${random_password.redis_auth[0].result}@${aws_elasticache_replication_group.main[0].primary_endpoint_address}:6379", "")
  sensitive   = true
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the bucket, queue, database, Redis and secrets."
  value       = aws_kms_key.main.arn
}

################################################################################
# What the app module needs beyond the seed
################################################################################

output "database_password_secret_arn" {
  description = "Secrets Manager secret (kept and rotated by RDS) with the database password."
  value       = aws_rds_cluster.main.master_user_secret[0].secret_arn
}

output "app_role_arn" {
  description = "IAM role for the app's service accounts (IRSA)."
  value       = aws_iam_role.app.arn
}

output "ingress" {
  description = "What the app's Ingress needs for the ALB: host, certificate, scheme, security group and CIDRs."
  value = {
    host               = local.fqdn
    certificate_arn    = aws_acm_certificate_validation.main.certificate_arn
    scheme             = var.public_access ? "internet-facing" : "internal"
    security_group_ids = [aws_security_group.alb.id]
    inbound_cidrs      = var.allowed_inbound_cidr
    inbound_ipv6_cidrs = var.allowed_inbound_ipv6_cidr
    # The ALB's own addresses: the app believes X-Forwarded-For from these only.
    proxy_cidrs = [var.network_cidr]
  }
}

output "cluster_endpoint" {
  description = "Endpoint of the EKS API."
  value       = aws_eks_cluster.main.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the EKS API."
  value       = aws_eks_cluster.main.certificate_authority[0].data
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.main.id
}

output "fqdn" {
  description = "Host name of the instance."
  value       = local.fqdn
}
