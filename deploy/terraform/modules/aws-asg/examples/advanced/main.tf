# Spot first with an on-demand fallback: a mixed instances policy over three GPU types
# (capacity-optimized Spot, one on-demand instance as a base when desired_capacity > 1),
# capacity rebalancing, and a rolling instance refresh that keeps half the capacity.

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

  name               = "flowllama-asg-adv"
  availability_zones = ["${var.region}a", "${var.region}b", "${var.region}c"]
  tags               = local.tags
}

module "security_group" {
  source = "../../../aws-security-group"

  name                = "flowllama-asg-adv"
  vpc_id              = module.vpc.vpc_id
  environment         = "prod"
  ollama_source_cidrs = [module.vpc.vpc_cidr_block]
  tags                = local.tags
}

module "launch_template" {
  source = "../../../aws-launch-template"

  name               = "flowllama-asg-adv"
  instance_type      = "g5.xlarge"
  ami_id             = var.ami_id
  root_volume_gb     = 150
  security_group_ids = [module.security_group.security_group_id]
  tags               = local.tags
}

module "asg" {
  source = "../.."

  name                    = "flowllama-asg-adv"
  subnet_ids              = module.vpc.private_subnet_ids
  launch_template_id      = module.launch_template.launch_template_id
  launch_template_version = tostring(module.launch_template.latest_version)
  min_size                = 1
  max_size                = 3
  desired_capacity        = 2

  spot_mix                                = true
  instance_types                          = ["g5.xlarge", "g6.xlarge", "g4dn.xlarge"]
  on_demand_base_capacity                 = 1
  on_demand_percentage_above_base         = 0
  spot_allocation_strategy                = "capacity-optimized"
  capacity_rebalance                      = true
  instance_refresh_min_healthy_percentage = 50
  health_check_grace_period               = 1200

  tags = local.tags
}

locals {
  tags = {
    project                = "flowllama"
    environment            = "prod"
    "flowllama:deployment" = "example"
  }
}
