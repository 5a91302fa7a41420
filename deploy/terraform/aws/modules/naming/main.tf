# Names and addresses derived from the seed's inputs, kept free of providers so that they
# are validated and tested offline (tests/naming.tftest.hcl).

locals {
  fqdn = var.subdomain == null ? var.domain_name : "${var.subdomain}.${var.domain_name}"

  names = {
    cluster      = "${var.namespace}-cluster"
    database     = "${var.namespace}-aurora"
    bucket       = "${var.namespace}-file-storage-"
    queue        = "${var.namespace}-file-events"
    dead_letters = "${var.namespace}-file-events-dlq"
    redis        = "${var.namespace}-redis"
    kms_alias    = "alias/${var.namespace}"
  }
}
