################################################################################
# Aurora MySQL 3: KMS-encrypted, master password kept by RDS in Secrets Manager
################################################################################

resource "aws_db_subnet_group" "main" {
  name_prefix = "${var.namespace}-"
  subnet_ids  = aws_subnet.database[*].id
  tags        = local.tags
}

resource "aws_security_group" "database" {
  name_prefix = "${var.namespace}-database-"
  description = "Aurora MySQL: reachable from the EKS nodes (and database_allowed_cidr_blocks) only"
  vpc_id      = aws_vpc.main.id
  tags        = merge(local.tags, { Name = "${var.namespace}-database" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_cluster" {
  security_group_id            = aws_security_group.database.id
  description                  = "MySQL from the EKS cluster security group (nodes and pods)"
  referenced_security_group_id = local.cluster_sg_id
  ip_protocol                  = "tcp"
  from_port                    = 3306
  to_port                      = 3306
}

resource "aws_vpc_security_group_ingress_rule" "database_from_cidrs" {
  for_each = toset(var.database_allowed_cidr_blocks)

  security_group_id = aws_security_group.database.id
  description       = "MySQL from ${each.value} (database_allowed_cidr_blocks)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 3306
  to_port           = 3306
}

# What the app needs from MySQL: row-based binary logs, utf8mb4 throughout, audit logging.
resource "aws_rds_cluster_parameter_group" "main" {
  name_prefix = "${var.namespace}-aurora-mysql8-"
  family      = "aurora-mysql8.0"
  description = "Runyard ${var.namespace}: binlog_format ROW, utf8mb4, audit log"
  tags        = local.tags

  dynamic "parameter" {
    for_each = {
      binlog_format            = "ROW"
      character_set_server     = "utf8mb4"
      character_set_client     = "utf8mb4"
      character_set_connection = "utf8mb4"
      character_set_database   = "utf8mb4"
      character_set_results    = "utf8mb4"
      collation_server         = "utf8mb4_unicode_ci"
      collation_connection     = "utf8mb4_unicode_ci"
      server_audit_logging     = "1"
      server_audit_events      = "CONNECT,QUERY_DDL,QUERY_DCL"
      slow_query_log           = "1"
      long_query_time          = "2"
    }
    content {
      name         = parameter.key
      value        = parameter.value
      apply_method = "pending-reboot"
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_rds_cluster" "main" {
  cluster_identifier = local.names.database
  engine             = "aurora-mysql"
  engine_version     = var.database_engine_version
  database_name      = var.database_name
  master_username    = var.database_master_username

  # RDS generates the password, keeps it in Secrets Manager (encrypted with our key) and
  # rotates it; the app reads it through RUNYARD_DATABASE_PASSWORD_SECRET.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.main.arn

  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.main.arn
  iam_database_authentication_enabled = true
  db_subnet_group_name                = aws_db_subnet_group.main.name
  vpc_security_group_ids              = [aws_security_group.database.id]
  db_cluster_parameter_group_name     = aws_rds_cluster_parameter_group.main.name
  enabled_cloudwatch_logs_exports     = ["audit", "error", "slowquery"]

  backtrack_window          = var.database_backtrack_hours * 3600
  backup_retention_period   = var.database_backup_retention_days
  preferred_backup_window   = "03:00-04:00"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.names.database}-final"

  tags = local.tags
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name_prefix        = "${var.namespace}-rds-monitoring-"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_rds_cluster_instance" "main" {
  count = var.database_instance_count

  identifier                            = "${local.names.database}-${count.index}"
  cluster_identifier                    = aws_rds_cluster.main.id
  engine                                = aws_rds_cluster.main.engine
  engine_version                        = aws_rds_cluster.main.engine_version
  instance_class                        = var.database_instance_class
  db_subnet_group_name                  = aws_db_subnet_group.main.name
  publicly_accessible                   = false
  auto_minor_version_upgrade            = true
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.main.arn
  performance_insights_retention_period = 7
  tags                                  = local.tags
}

################################################################################
# AWS Backup: daily recovery points of the database, in a vault encrypted with our key
################################################################################

resource "aws_backup_vault" "main" {
  name        = "${var.namespace}-backups"
  kms_key_arn = aws_kms_key.main.arn
  tags        = local.tags
}

resource "aws_backup_plan" "main" {
  name = "${var.namespace}-daily"

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.main.name
    schedule          = "cron(0 4 * * ? *)"

    lifecycle {
      delete_after = var.backup_retention_days
    }
  }

  tags = local.tags
}

data "aws_iam_policy_document" "backup_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backup" {
  name_prefix        = "${var.namespace}-backup-"
  assume_role_policy = data.aws_iam_policy_document.backup_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "backup" {
  role       = aws_iam_role.backup.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
}

resource "aws_backup_selection" "database" {
  name         = "${var.namespace}-database"
  plan_id      = aws_backup_plan.main.id
  iam_role_arn = aws_iam_role.backup.arn
  resources    = [aws_rds_cluster.main.arn]
}
