# Offline: the module has no provider, so `terraform test` needs no registry.

variables {
  host                       = "https://runyard-aws.example.com"
  bucket                     = "s3://runyard-file-storage-abc"
  bucket_aws_region          = "eu-central-1"
  bucket_queue               = "internal://"
  database_connection_string = "runyard@aurora.example.internal:3306/runyard"
  connection_secret          = "runyard-connection"
  keys_secret                = "runyard-keys"
}

run "seed_inputs_map_to_chart_values" {
  command = plan

  assert {
    condition     = output.helm_values.runyard.publicUrl == "https://runyard-aws.example.com"
    error_message = "host becomes runyard.publicUrl"
  }
  assert {
    condition     = output.helm_values.runyard.blobStore.url == "s3://runyard-file-storage-abc" && output.helm_values.runyard.blobStore.region == "eu-central-1"
    error_message = "bucket and bucket_aws_region reach the blob store settings"
  }
  assert {
    condition     = output.helm_values.runyard.queue.url == "internal://"
    error_message = "bucket_queue reaches the queue setting"
  }
  assert {
    condition     = nonsensitive(output.database_url) == "mysql://runyard@aurora.example.internal:3306/runyard"
    error_message = "the infra module's connection string gets the seed's mysql:// prefix"
  }
  assert {
    condition     = output.helm_values.runyard.database.existingSecret == "runyard-connection" && !can(output.helm_values.runyard.database.url)
    error_message = "the database URL is passed by Secret reference, never inline"
  }
  assert {
    condition     = output.helm_values.runyard.trustedProxies == ""
    error_message = "no Ingress, no trusted proxy"
  }
  assert {
    condition     = !output.helm_values.autoscaling.enabled && output.helm_values.ingress.enabled == false
    error_message = "no autoscaling and no Ingress unless asked"
  }
  assert {
    condition     = !can(output.helm_values.image.tag)
    error_message = "without runyard_version the chart's appVersion is used"
  }
}

run "seed_form_with_scheme_and_upgrade_knob" {
  command = plan

  variables {
    database_connection_string = "mysql://runyard@aurora.example.internal:3306/runyard"
    bucket                     = "runyard-file-storage-abc"
    bucket_queue               = "sqs://runyard-file-events"
    runyard_version            = "0.2.0"
    has_redis                  = true
    max_replicas               = 6
    service_account_role_arn   = "arn:aws:iam::123456789012:role/runyard-app"
    ingress = {
      host               = "runyard-aws.example.com"
      certificate_arn    = "arn:aws:acm:eu-central-1:123456789012:certificate/x"
      scheme             = "internet-facing"
      security_group_ids = ["sg-0123"]
      inbound_cidrs      = ["203.0.113.0/24"]
      inbound_ipv6_cidrs = []
      proxy_cidrs        = ["10.20.0.0/16"]
    }
  }

  assert {
    condition     = output.helm_values.runyard.trustedProxies == "10.20.0.0/16"
    error_message = "behind the ALB, the VPC's range is the trusted proxy (X-Forwarded-For)"
  }

  assert {
    condition     = nonsensitive(output.database_url) == "mysql://runyard@aurora.example.internal:3306/runyard"
    error_message = "a URL that has a scheme is kept"
  }
  assert {
    condition     = output.helm_values.image.tag == "0.2.0"
    error_message = "runyard_version is the image tag (the upgrade knob)"
  }
  assert {
    condition     = output.helm_values.runyard.blobStore.url == "s3://runyard-file-storage-abc"
    error_message = "a bare bucket name becomes s3://NAME"
  }
  assert {
    condition     = output.helm_values.runyard.cache.existingSecretKey == "cache-url" && output.helm_values.runyard.queue.url == "sqs://runyard-file-events"
    error_message = "Redis by Secret reference, SQS queue passed through"
  }
  assert {
    condition     = output.helm_values.autoscaling.enabled && output.helm_values.autoscaling.maxReplicas == 6
    error_message = "max_replicas above replicas turns autoscaling on"
  }
  assert {
    condition     = output.helm_values.ingress.alb.inboundCidrs[0] == "203.0.113.0/24" && output.helm_values.ingress.alb.securityGroups[0] == "sg-0123"
    error_message = "the infra module's CIDRs and security group reach the ALB Ingress"
  }
  assert {
    condition     = output.helm_values.serviceAccount.annotations["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/runyard-app"
    error_message = "the IRSA role annotates the service account"
  }
}

run "rejects_a_queue_of_another_kind" {
  command = plan

  variables {
    bucket_queue = "kafka://events"
  }

  expect_failures = [var.bucket_queue]
}

run "rejects_credentials_in_the_host" {
  command = plan

  variables {
    host = "https://admin:secret@runyard.example.com"
  }

  expect_failures = [var.host]
}
