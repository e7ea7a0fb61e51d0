# A model cache with the defaults: versioned, SSE-S3, private, TLS-only, objects to STANDARD_IA
# after 30 days, old versions deleted after 30 days.

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

variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}

module "model_bucket" {
  source = "../.."

  name = "flowllama-models"

  tags = {
    project     = "flowllama"
    environment = "dev"
  }
}

output "bucket_id" {
  description = "The bucket's name."
  value       = module.model_bucket.bucket_id
}

output "bucket_arn" {
  description = "The bucket's ARN."
  value       = module.model_bucket.bucket_arn
}
