# Bucket logic with a mocked provider: naming, encryption choice, lifecycle, TLS-only policy.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::tmb-123456789012-eu-west-1" }
  }
}

variables {
  name = "tmb"
}

run "defaults" {
  command = apply

  assert {
    condition     = aws_s3_bucket.this.bucket == "tmb-123456789012-eu-west-1"
    error_message = "The derived name is <name>-<account>-<region>."
  }
  assert {
    condition     = aws_s3_bucket.this.versioning[0].enabled
    error_message = "Versioning is on."
  }
  assert {
    condition     = one(one(aws_s3_bucket.this.server_side_encryption_configuration[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "SSE-S3 without a KMS key."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy && aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets
    error_message = "All public access is blocked."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.this.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false" && jsondecode(aws_s3_bucket_policy.this.policy).Statement[0].Effect == "Deny"
    error_message = "Plain HTTP is denied."
  }
  assert {
    condition     = [for t in aws_s3_bucket.this.lifecycle_rule[0].transition : t.storage_class] == ["STANDARD_IA"] && [for e in aws_s3_bucket.this.lifecycle_rule[0].noncurrent_version_expiration : e.days] == [30]
    error_message = "Default lifecycle: STANDARD_IA at 30 days, old versions expire."
  }
}

run "kms" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/abc"
    bucket_name = "explicit-name"
  }

  assert {
    condition     = one(one(aws_s3_bucket.this.server_side_encryption_configuration[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" && one(aws_s3_bucket.this.server_side_encryption_configuration[0].rule).bucket_key_enabled
    error_message = "SSE-KMS with a bucket key when a key is given."
  }
  assert {
    condition     = aws_s3_bucket.this.bucket == "explicit-name"
    error_message = "An explicit bucket_name wins."
  }
}

run "rejects_bad_bucket_name" {
  command = plan

  variables {
    bucket_name = "Not_A_Bucket"
  }

  expect_failures = [var.bucket_name]
}

run "rejects_unknown_storage_class" {
  command = plan

  variables {
    lifecycle_transitions = [{ days = 10, storage_class = "CHEAP" }]
  }

  expect_failures = [var.lifecycle_transitions]
}
