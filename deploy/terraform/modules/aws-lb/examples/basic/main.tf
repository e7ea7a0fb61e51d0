# An internal ALB for one deployment, plain HTTP (no certificate: internal only), reachable from
# the VPC, forwarding to an Ollama target group checked on /api/tags.

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

module "vpc" {
  source = "../../../aws-vpc"

  name               = "flowllama-lb-basic"
  availability_zones = ["${var.region}a", "${var.region}b"]
  tags               = local.tags
}

module "lb" {
  source = "../.."

  name          = "flowllama-lb-basic"
  vpc_id        = module.vpc.vpc_id
  subnet_ids    = module.vpc.private_subnet_ids
  allowed_cidrs = [module.vpc.vpc_cidr_block]

  tags = local.tags
}

locals {
  tags = {
    project     = "flowllama"
    environment = "dev"
  }
}

output "endpoint_url" {
  description = "Where the gateway reaches Ollama."
  value       = module.lb.endpoint_url
}
