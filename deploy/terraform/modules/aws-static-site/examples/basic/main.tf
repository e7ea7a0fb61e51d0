# The web UI on CloudFront's default domain: private bucket, HTTPS (HTTP redirects), index.html at
# the root and for client-side routes. Upload with:
#   flowllama web export DIR && aws s3 sync DIR s3://$(terraform output -raw bucket_id)/

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
  description = "AWS region of the bucket (CloudFront itself is global)."
  default     = "us-east-1"
}

module "site" {
  source = "../.."

  name = "flowllama-ui"

  tags = {
    project     = "flowllama"
    environment = "dev"
  }
}

output "url" {
  description = "The site's HTTPS URL."
  value       = module.site.url
}

output "bucket_id" {
  description = "Upload the exported UI here."
  value       = module.site.bucket_id
}
