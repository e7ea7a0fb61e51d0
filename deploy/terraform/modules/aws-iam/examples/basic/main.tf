# The instance identity for a model cache bucket, and the agent policy to attach to whatever
# identity the agent already runs as.

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

module "iam" {
  source = "../.."

  name             = "flowllama-basic"
  model_bucket_arn = "arn:aws:s3:::flowllama-models-example"

  tags = {
    project     = "flowllama"
    environment = "dev"
  }
}

output "instance_profile_name" {
  description = "Give this to the launch template."
  value       = module.iam.instance_profile_name
}

output "agent_policy_arn" {
  description = "Attach this to the agent's identity."
  value       = module.iam.agent_policy_arn
}
