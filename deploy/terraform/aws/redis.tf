################################################################################
# ElastiCache Redis (create_elasticache_subnet = true): TLS, auth token, KMS
################################################################################

resource "aws_elasticache_subnet_group" "main" {
  count = var.create_elasticache_subnet ? 1 : 0

  name       = local.names.redis
  subnet_ids = aws_subnet.elasticache[*].id
  tags       = local.tags
}

resource "aws_security_group" "redis" {
  count = var.create_elasticache_subnet ? 1 : 0

  name_prefix = "${var.namespace}-redis-"
  description = "Redis: reachable from the EKS nodes (and redis_allowed_cidr_blocks) only"
  vpc_id      = aws_vpc.main.id
  tags        = merge(local.tags, { Name = "${var.namespace}-redis" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_cluster" {
  count = var.create_elasticache_subnet ? 1 : 0

  security_group_id            = aws_security_group.redis[0].id
  description                  = "Redis from the EKS cluster security group (nodes and pods)"
  referenced_security_group_id = local.cluster_sg_id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_cidrs" {
  for_each = var.create_elasticache_subnet ? toset(var.redis_allowed_cidr_blocks) : toset([])

  security_group_id = aws_security_group.redis[0].id
  description       = "Redis from ${each.value} (redis_allowed_cidr_blocks)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
}

resource "random_password" "redis_auth" {
  count = var.create_elasticache_subnet ? 1 : 0

  length  = 64
  special = false
}

resource "aws_elasticache_replication_group" "main" {
  count = var.create_elasticache_subnet ? 1 : 0

  replication_group_id       = local.names.redis
  description                = "Runyard ${var.namespace} query cache"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.elasticache_node_type
  port                       = 6379
  num_cache_clusters         = length(local.azs)
  automatic_failover_enabled = true
  multi_az_enabled           = true
  subnet_group_name          = aws_elasticache_subnet_group.main[0].name
  security_group_ids         = [aws_security_group.redis[0].id]
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.main.arn
  transit_encryption_enabled = true
  auth_token                 = random_password.redis_auth[0].result
  auto_minor_version_upgrade = true
  snapshot_retention_limit   = 7
  apply_immediately          = false
  tags                       = local.tags
}
