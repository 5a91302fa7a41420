################################################################################
# The ALB's security group: allowed_inbound_cidr / allowed_inbound_ipv6_cidr only.
# The AWS Load Balancer Controller creates the ALB from the app's Ingress and attaches this
# group (alb.ingress.kubernetes.io/security-groups); see output "ingress".
################################################################################

locals {
  alb_ports = { http = 80, https = 443 }

  alb_ingress_ipv4 = {
    for pair in setproduct(var.allowed_inbound_cidr, keys(local.alb_ports)) :
    "${pair[1]}-${pair[0]}" => { cidr = pair[0], port = local.alb_ports[pair[1]] }
  }
  alb_ingress_ipv6 = {
    for pair in setproduct(var.allowed_inbound_ipv6_cidr, keys(local.alb_ports)) :
    "${pair[1]}-${pair[0]}" => { cidr = pair[0], port = local.alb_ports[pair[1]] }
  }
}

resource "aws_security_group" "alb" {
  name_prefix = "${var.namespace}-alb-"
  description = "Runyard load balancer: HTTPS (and HTTP, redirected) from the allowed CIDRs only"
  vpc_id      = aws_vpc.main.id
  tags        = merge(local.tags, { Name = "${var.namespace}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_ipv4" {
  for_each = local.alb_ingress_ipv4

  security_group_id = aws_security_group.alb.id
  description       = "Port ${each.value.port} from ${each.value.cidr} (allowed_inbound_cidr)"
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
}

resource "aws_vpc_security_group_ingress_rule" "alb_ipv6" {
  for_each = local.alb_ingress_ipv6

  security_group_id = aws_security_group.alb.id
  description       = "Port ${each.value.port} from ${each.value.cidr} (allowed_inbound_ipv6_cidr)"
  cidr_ipv6         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
}

resource "aws_vpc_security_group_egress_rule" "alb_to_pods" {
  security_group_id = aws_security_group.alb.id
  description       = "To the app's pods (target type ip) in the VPC"
  cidr_ipv4         = var.network_cidr
  ip_protocol       = "tcp"
  from_port         = 8080
  to_port           = 8080
}
