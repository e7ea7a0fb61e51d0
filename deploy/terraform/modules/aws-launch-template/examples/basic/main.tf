# An on-demand GPU server template: the Deep Learning AMI looked up through SSM (or an explicit
# ami_id), a 100 GiB encrypted root volume, IMDSv2 only, a boot script as user data.

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

  name               = "flowllama-lt-basic"
  availability_zones = ["${var.region}a"]
  tags               = local.tags
}

module "security_group" {
  source = "../../../aws-security-group"

  name                = "flowllama-lt-basic"
  vpc_id              = module.vpc.vpc_id
  ollama_source_cidrs = [module.vpc.vpc_cidr_block]
  tags                = local.tags
}

module "launch_template" {
  source = "../.."

  name               = "flowllama-lt-basic"
  instance_type      = "g5.xlarge"
  ami_id             = var.ami_id
  security_group_ids = [module.security_group.security_group_id]
  user_data          = "#!/bin/bash\necho 'the ollama-boot module output goes here'\n"

  tags = local.tags
}

locals {
  tags = {
    project     = "flowllama"
    environment = "dev"
  }
}

output "launch_template_id" {
  description = "The launch template's id."
  value       = module.launch_template.launch_template_id
}
