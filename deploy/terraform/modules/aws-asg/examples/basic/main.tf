# One on-demand Ollama server kept alive by an Auto Scaling group of one, in a private subnet,
# replaced on EC2 status check failures and refreshed when its launch template changes.

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

variable "ami_id" {
  type        = string
  description = "AMI to boot; null looks up the GPU Deep Learning AMI in SSM."
  default     = null
}

module "vpc" {
  source = "../../../aws-vpc"

  name               = "flowllama-asg-basic"
  availability_zones = ["${var.region}a", "${var.region}b"]
  tags               = local.tags
}

module "security_group" {
  source = "../../../aws-security-group"

  name                = "flowllama-asg-basic"
  vpc_id              = module.vpc.vpc_id
  ollama_source_cidrs = [module.vpc.vpc_cidr_block]
  tags                = local.tags
}

module "launch_template" {
  source = "../../../aws-launch-template"

  name               = "flowllama-asg-basic"
  instance_type      = "g5.xlarge"
  ami_id             = var.ami_id
  security_group_ids = [module.security_group.security_group_id]
  tags               = local.tags
}

module "asg" {
  source = "../.."

  name                    = "flowllama-asg-basic"
  subnet_ids              = module.vpc.private_subnet_ids
  launch_template_id      = module.launch_template.launch_template_id
  launch_template_version = tostring(module.launch_template.latest_version)

  tags = local.tags
}

locals {
  tags = {
    project     = "flowllama"
    environment = "dev"
  }
}

output "autoscaling_group_name" {
  description = "The group's name."
  value       = module.asg.autoscaling_group_name
}
