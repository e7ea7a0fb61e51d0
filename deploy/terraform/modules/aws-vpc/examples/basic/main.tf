# The smallest useful network: two zones, one NAT gateway, flow logs to CloudWatch Logs.

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
  description = "AWS region to create the network in."
  default     = "us-east-1"
}

module "vpc" {
  source = "../.."

  name               = "flowllama-basic"
  availability_zones = ["${var.region}a", "${var.region}b"]

  tags = {
    project     = "flowllama"
    environment = "dev"
  }
}

output "vpc_id" {
  description = "The VPC's id."
  value       = module.vpc.vpc_id
}

output "private_subnet_ids" {
  description = "Where Ollama servers go."
  value       = module.vpc.private_subnet_ids
}
