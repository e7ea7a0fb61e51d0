# A prod security group: Ollama only from the gateway's security group, no SSH, HTTPS egress to
# the internet (through NAT) plus a custom DNS resolver inside the VPC.

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

  name               = "flowllama-sg-adv"
  availability_zones = ["${var.region}a", "${var.region}b"]
  tags               = local.tags
}

# Stands for the FlowLlama gateway (or its load balancer) in the same VPC.
resource "aws_security_group" "gateway" {
  #checkov:skip=CKV2_AWS_5: an example stand-in for the gateway's own group, attached outside this example.
  name        = "flowllama-sg-adv-gateway"
  description = "FlowLlama gateway (example)"
  vpc_id      = module.vpc.vpc_id
  tags        = merge(local.tags, { Name = "flowllama-sg-adv-gateway" })
}

module "security_group" {
  source = "../.."

  name                             = "flowllama-sg-adv"
  vpc_id                           = module.vpc.vpc_id
  environment                      = "prod"
  ollama_source_security_group_ids = [aws_security_group.gateway.id]
  dns_resolver_cidrs               = ["${cidrhost(module.vpc.vpc_cidr_block, 10)}/32"]

  tags = local.tags
}

locals {
  tags = {
    project     = "flowllama"
    environment = "prod"
  }
}

output "security_group_id" {
  description = "The Ollama servers' security group."
  value       = module.security_group.security_group_id
}

output "gateway_security_group_id" {
  description = "The gateway stand-in's security group."
  value       = aws_security_group.gateway.id
}
