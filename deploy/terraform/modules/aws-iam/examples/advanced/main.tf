# Both identities in full: a read-only model cache with a KMS key and Session Manager access for
# the instances; an agent role (assumable from the operator account) with load balancer
# permissions and an S3 + DynamoDB Terraform state backend.

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

data "aws_caller_identity" "current" {}

module "iam" {
  source = "../.."

  name                       = "flowllama-prod"
  model_bucket_arn           = "arn:aws:s3:::flowllama-models-prod"
  model_object_prefix        = "ollama/models/"
  model_cache_write_enabled  = false
  model_bucket_kms_key_arn   = "arn:aws:kms:${var.region}:${data.aws_caller_identity.current.account_id}:key/11111111-2222-3333-4444-555555555555"
  log_group_prefix           = "/flowllama/prod/"
  instance_extra_policy_arns = ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]

  agent_role_trust_policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
  agent_elb_enabled      = true
  agent_state_bucket_arn = "arn:aws:s3:::flowllama-terraform-state"
  agent_lock_table_arn   = "arn:aws:dynamodb:${var.region}:${data.aws_caller_identity.current.account_id}:table/flowllama-terraform-locks"

  tags = {
    project     = "flowllama"
    environment = "prod"
  }
}
