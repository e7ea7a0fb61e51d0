# A model cache with a customer-managed KMS key (when given), an explicit name, access logs to a
# log bucket (when given), Intelligent-Tiering right away, and a longer history of old versions.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
}

module "model_bucket" {
  source = "../.."

  name              = "flowllama-prod"
  bucket_name       = var.bucket_name
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = var.access_log_bucket
  lifecycle_transitions = [
    { days = 0, storage_class = "INTELLIGENT_TIERING" },
  ]
  noncurrent_version_expiration_days     = 90
  abort_incomplete_multipart_upload_days = 2

  tags = {
    project     = "flowllama"
    environment = "prod"
  }
}
