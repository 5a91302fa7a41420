terraform {
  # Provider-free on purpose: `terraform validate` and `terraform test` run offline.
  required_version = ">= 1.6.0"
}
