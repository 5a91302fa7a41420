################################################################################
# VPC: public subnets (load balancer, NAT), private (nodes), database, ElastiCache
################################################################################

# Zones are named, not discovered, so the subnets never move when AWS adds a zone.
data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "zone-name"
    values = coalesce(var.availability_zones, [for suffix in ["a", "b", "c"] : "${local.region}${suffix}"])
  }
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, var.availability_zone_count)

  # In a /16: public 10.x.0-2.0/24, private 10.x.16.0/20..., database 10.x.100-102.0/24,
  # ElastiCache 10.x.110-112.0/24.
  public_subnets      = [for i, _ in local.azs : cidrsubnet(var.network_cidr, 8, i)]
  private_subnets     = [for i, _ in local.azs : cidrsubnet(var.network_cidr, 4, i + 1)]
  database_subnets    = [for i, _ in local.azs : cidrsubnet(var.network_cidr, 8, 100 + i)]
  elasticache_subnets = [for i, _ in local.azs : cidrsubnet(var.network_cidr, 8, 110 + i)]
}

resource "aws_vpc" "main" {
  cidr_block                       = var.network_cidr
  enable_dns_support               = true
  enable_dns_hostnames             = true
  assign_generated_ipv6_cidr_block = true

  tags = merge(local.tags, { Name = "${var.namespace}-vpc" })
}

# No rules: nothing may use the default security group.
resource "aws_default_security_group" "main" {
  vpc_id = aws_vpc.main.id
  tags   = merge(local.tags, { Name = "${var.namespace}-default-deny" })
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
  tags   = merge(local.tags, { Name = "${var.namespace}-igw" })
}

resource "aws_subnet" "public" {
  count = length(local.azs)

  vpc_id                          = aws_vpc.main.id
  availability_zone               = local.azs[count.index]
  cidr_block                      = local.public_subnets[count.index]
  ipv6_cidr_block                 = cidrsubnet(aws_vpc.main.ipv6_cidr_block, 8, count.index)
  assign_ipv6_address_on_creation = false
  map_public_ip_on_launch         = false

  tags = merge(local.tags, {
    Name                                           = "${var.namespace}-public-${local.azs[count.index]}"
    "kubernetes.io/role/elb"                       = "1"
    "kubernetes.io/cluster/${local.names.cluster}" = "shared"
  })
}

resource "aws_subnet" "private" {
  count = length(local.azs)

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.private_subnets[count.index]

  tags = merge(local.tags, {
    Name                                           = "${var.namespace}-private-${local.azs[count.index]}"
    "kubernetes.io/role/internal-elb"              = "1"
    "kubernetes.io/cluster/${local.names.cluster}" = "shared"
  })
}

resource "aws_subnet" "database" {
  count = length(local.azs)

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.database_subnets[count.index]

  tags = merge(local.tags, { Name = "${var.namespace}-database-${local.azs[count.index]}" })
}

resource "aws_subnet" "elasticache" {
  count = var.create_elasticache_subnet ? length(local.azs) : 0

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.elasticache_subnets[count.index]

  tags = merge(local.tags, { Name = "${var.namespace}-elasticache-${local.azs[count.index]}" })
}

resource "aws_eip" "nat" {
  domain = "vpc"
  tags   = merge(local.tags, { Name = "${var.namespace}-nat" })
}

resource "aws_nat_gateway" "main" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public[0].id
  tags          = merge(local.tags, { Name = "${var.namespace}-nat" })

  depends_on = [aws_internet_gateway.main]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  tags   = merge(local.tags, { Name = "${var.namespace}-public" })
}

resource "aws_route" "public_ipv4" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.main.id
}

resource "aws_route" "public_ipv6" {
  route_table_id              = aws_route_table.public.id
  destination_ipv6_cidr_block = "::/0"
  gateway_id                  = aws_internet_gateway.main.id
}

resource "aws_route_table_association" "public" {
  count = length(local.azs)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id
  tags   = merge(local.tags, { Name = "${var.namespace}-private" })
}

resource "aws_route" "private_nat" {
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.main.id
}

resource "aws_route_table_association" "private" {
  count = length(local.azs)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# Database and ElastiCache subnets get a table with the local route only: no internet.
resource "aws_route_table" "isolated" {
  vpc_id = aws_vpc.main.id
  tags   = merge(local.tags, { Name = "${var.namespace}-isolated" })
}

resource "aws_route_table_association" "database" {
  count = length(local.azs)

  subnet_id      = aws_subnet.database[count.index].id
  route_table_id = aws_route_table.isolated.id
}

resource "aws_route_table_association" "elasticache" {
  count = length(aws_subnet.elasticache)

  subnet_id      = aws_subnet.elasticache[count.index].id
  route_table_id = aws_route_table.isolated.id
}

# S3 traffic from the nodes stays on the AWS network and skips the NAT gateway.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
  tags              = merge(local.tags, { Name = "${var.namespace}-s3" })
}

################################################################################
# VPC flow logs
################################################################################

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/runyard/${var.namespace}/vpc-flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
  tags              = local.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name_prefix        = "${var.namespace}-flow-logs-"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "main" {
  vpc_id          = aws_vpc.main.id
  traffic_type    = "ALL"
  iam_role_arn    = aws_iam_role.flow_logs.arn
  log_destination = aws_cloudwatch_log_group.flow_logs.arn
  tags            = local.tags
}
