# The web UI on a custom domain: an ACM certificate (us-east-1) with TLS 1.2+ only, a WAF web ACL
# and CloudFront logs when given, all edge locations, an explicit bucket name.

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

module "site" {
  source = "../.."

  name                       = "flowllama-ui-prod"
  bucket_name                = var.bucket_name
  aliases                    = var.certificate_arn == null ? [] : var.aliases
  certificate_arn            = var.certificate_arn
  minimum_protocol_version   = "TLSv1.2_2021"
  price_class                = "PriceClass_All"
  web_acl_id                 = var.web_acl_id
  logging_bucket_domain_name = var.logging_bucket_domain_name
  spa_error_mapping          = true

  tags = {
    project     = "flowllama"
    environment = "prod"
  }
}
