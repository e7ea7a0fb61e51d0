# The model cache: an S3 bucket the Ollama servers pull model blobs from (and fill on a miss).
# Versioned, encrypted at rest (SSE-S3 or SSE-KMS), never public, TLS-only, with lifecycle rules
# moving old objects to cheaper storage.
#
# Versioning, encryption and lifecycle are the bucket's inline blocks: the only form both provider
# 3.39 (which has no aws_s3_bucket_versioning & co.) and v6 (where they are deprecated but
# supported) accept. See README "Provider versions".

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  bucket = coalesce(var.bucket_name, "${var.name}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}")
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144: a cache; a lost region refills it from the Ollama registry, so cross-region replication is not worth its cost.
  #checkov:skip=CKV_AWS_145: SSE-KMS is optional (kms_key_arn); the default is SSE-S3, still encryption at rest.
  #checkov:skip=CKV2_AWS_62: nothing consumes object events of a model cache.
  #checkov:skip=CKV_AWS_18: access logging is optional (access_log_bucket): a dedicated log bucket is the operator's choice.
  #checkov:skip=CKV2_AWS_65: new buckets have ACLs disabled (BucketOwnerEnforced) by default; provider 3.39 cannot set that value itself.
  bucket        = local.bucket
  force_destroy = var.force_destroy

  versioning {
    enabled = true
  }

  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
        kms_master_key_id = var.kms_key_arn
      }
      bucket_key_enabled = var.kms_key_arn != null
    }
  }

  lifecycle_rule {
    id                                     = "cheaper-storage"
    enabled                                = true
    abort_incomplete_multipart_upload_days = var.abort_incomplete_multipart_upload_days

    dynamic "transition" {
      for_each = var.lifecycle_transitions
      content {
        days          = transition.value.days
        storage_class = transition.value.storage_class
      }
    }

    noncurrent_version_expiration {
      days = var.noncurrent_version_expiration_days
    }
  }

  dynamic "logging" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]
    content {
      target_bucket = logging.value
      target_prefix = var.access_log_prefix
    }
  }

  tags = merge(var.tags, { Name = local.bucket })

  lifecycle {
    precondition {
      condition     = length(local.bucket) <= 63
      error_message = "The derived bucket name is longer than 63 characters: give a shorter name or an explicit bucket_name."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# TLS only: any request over plain HTTP is denied, whoever makes it.
resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  # S3 rejects policy and public access block changes made at the same moment.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
