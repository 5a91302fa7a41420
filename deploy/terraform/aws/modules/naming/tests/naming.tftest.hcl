# Offline: the module has no provider, so `terraform test` needs no registry.

variables {
  namespace                 = "runyard"
  domain_name               = "example.com"
  subdomain                 = "runyard-aws"
  allowed_inbound_cidr      = ["0.0.0.0/0"]
  allowed_inbound_ipv6_cidr = ["::/0"]
}

run "seed_example_gives_the_seed_fqdn" {
  command = plan

  assert {
    condition     = output.fqdn == "runyard-aws.example.com"
    error_message = "subdomain + domain_name must form the FQDN, as in the W&B guide"
  }
  assert {
    condition     = output.url == "https://runyard-aws.example.com"
    error_message = "url must be https://FQDN"
  }
  assert {
    condition     = jsonencode(output.inbound_cidrs) == jsonencode(["0.0.0.0/0", "::/0"]) && output.dual_stack
    error_message = "both CIDR lists reach the load balancer"
  }
  assert {
    condition     = alltrue([for k, v in output.names : startswith(v, "runyard-") if k != "kms_alias"])
    error_message = "every name starts with the namespace"
  }
}

run "no_subdomain_uses_the_domain" {
  command = plan

  variables {
    subdomain                 = null
    allowed_inbound_cidr      = ["203.0.113.0/24"]
    allowed_inbound_ipv6_cidr = []
  }

  assert {
    condition     = output.fqdn == "example.com" && !output.dual_stack
    error_message = "without a subdomain the FQDN is the domain, and IPv4 only"
  }
}

run "rejects_a_namespace_that_cannot_name_a_bucket" {
  command = plan

  variables {
    namespace = "Runyard_Prod"
  }

  expect_failures = [var.namespace]
}

run "rejects_a_malformed_cidr" {
  command = plan

  variables {
    allowed_inbound_cidr = ["10.0.0.0/33"]
  }

  expect_failures = [var.allowed_inbound_cidr]
}

run "rejects_ipv4_in_the_ipv6_list" {
  command = plan

  variables {
    allowed_inbound_ipv6_cidr = ["10.0.0.0/8"]
  }

  expect_failures = [var.allowed_inbound_ipv6_cidr]
}
