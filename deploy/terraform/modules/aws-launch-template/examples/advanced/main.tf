# A Spot GPU server template wired to the other foundation modules: the instance profile from
# aws-iam, the security group from aws-security-group, a 200 GiB root volume (large models) with an
# optional customer-managed KMS key, and a capped Spot price.

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

module "vpc" {
  source = "../../../aws-vpc"

  name               = "flowllama-lt-adv"
  availability_zones = ["${var.region}a", "${var.region}b"]
  tags               = local.tags
}

module "security_group" {
  source = "../../../aws-security-group"

  name                = "flowllama-lt-adv"
  vpc_id              = module.vpc.vpc_id
  environment         = "prod"
  ollama_source_cidrs = [module.vpc.vpc_cidr_block]
  tags                = local.tags
}

module "iam" {
  source = "../../../aws-iam"

  name             = "flowllama-lt-adv"
  model_bucket_arn = "arn:aws:s3:::flowllama-models-example"
  tags             = local.tags
}

module "launch_template" {
  source = "../.."

  name                  = "flowllama-lt-adv"
  instance_type         = "g5.2xlarge"
  ami_ssm_parameter     = var.ami_ssm_parameter
  root_volume_gb        = 200
  kms_key_arn           = var.kms_key_arn
  spot                  = true
  spot_max_price        = "0.80"
  instance_profile_name = module.iam.instance_profile_name
  security_group_ids    = [module.security_group.security_group_id]
  user_data             = var.user_data

  tags = local.tags
}

locals {
  tags = {
    project                = "flowllama"
    environment            = "prod"
    "flowllama:deployment" = "example"
  }
}
