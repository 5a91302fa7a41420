################################################################################
# SQS: object-created notifications from the bucket (use_internal_queue = false)
################################################################################

resource "aws_sqs_queue" "file_events_dlq" {
  count = var.use_internal_queue ? 0 : 1

  name                              = local.names.dead_letters
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = local.tags
}

resource "aws_sqs_queue" "file_events" {
  count = var.use_internal_queue ? 0 : 1

  name                              = local.names.queue
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 345600
  visibility_timeout_seconds        = 60
  receive_wait_time_seconds         = 20

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.file_events_dlq[0].arn
    maxReceiveCount     = 5
  })

  tags = local.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "file_events_dlq" {
  count = var.use_internal_queue ? 0 : 1

  queue_url = aws_sqs_queue.file_events_dlq[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.file_events[0].arn]
  })
}

# Only this bucket, in this account, may send to the queue.
data "aws_iam_policy_document" "file_events" {
  count = var.use_internal_queue ? 0 : 1

  statement {
    sid       = "OnlyTheFileBucketSends"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.file_events[0].arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.files.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.file_events[0].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "file_events" {
  count = var.use_internal_queue ? 0 : 1

  queue_url = aws_sqs_queue.file_events[0].id
  policy    = data.aws_iam_policy_document.file_events[0].json
}
