# A production-shaped network: three zones with one NAT gateway each and explicit CIDRs, plus a
# second, smaller network in a secondary region (a second provider alias and module instance: the
# module itself stays single-region).

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

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region
}

module "vpc" {
  source = "../.."

  name                     = "flowllama-prod"
  cidr_block               = "10.20.0.0/16"
  availability_zones       = ["${var.region}a", "${var.region}b", "${var.region}c"]
  public_subnet_cidrs      = ["10.20.0.0/24", "10.20.1.0/24", "10.20.2.0/24"]
  private_subnet_cidrs     = ["10.20.128.0/20", "10.20.144.0/20", "10.20.160.0/20"]
  nat_gateway_mode         = "per_az"
  flow_logs_traffic_type   = "REJECT"
  flow_logs_retention_days = 731

  tags = local.tags
}

module "vpc_secondary" {
  source = "../.."
  providers = {
    aws = aws.secondary
  }

  name                    = "flowllama-prod-dr"
  cidr_block              = "10.21.0.0/16"
  availability_zones      = ["${var.secondary_region}a", "${var.secondary_region}b"]
  nat_gateway_mode        = "single"
  flow_logs_destination   = var.secondary_flow_logs_bucket_arn == null ? "none" : "s3"
  flow_logs_s3_bucket_arn = var.secondary_flow_logs_bucket_arn

  tags = local.tags
}

locals {
  tags = {
    project     = "flowllama"
    environment = "prod"
  }
}
