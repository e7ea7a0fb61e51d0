# A dev security group: Ollama open to the whole VPC (where the gateway runs), SSH from one
# operator range, default HTTPS egress.

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

  name               = "flowllama-sg-basic"
  availability_zones = ["${var.region}a"]
  tags               = local.tags
}

module "security_group" {
  source = "../.."

  name                = "flowllama-sg-basic"
  vpc_id              = module.vpc.vpc_id
  environment         = "dev"
  ollama_source_cidrs = [module.vpc.vpc_cidr_block]
  ssh_enabled         = true
  ssh_allowed_cidrs   = ["203.0.113.0/24"]

  tags = local.tags
}

locals {
  tags = {
    project     = "flowllama"
    environment = "dev"
  }
}

output "security_group_id" {
  description = "The Ollama servers' security group."
  value       = module.security_group.security_group_id
}
