# The whole path for one deployment: a load balancer (ALB with HTTPS when a certificate is given,
# or an NLB), the servers' security group open only to it, a launch template, and an Auto Scaling
# group registered with the target group and replaced on failed /api/tags checks.

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

  name               = "flowllama-lb-adv"
  availability_zones = ["${var.region}a", "${var.region}b"]
  tags               = local.tags
}

module "lb" {
  source = "../.."

  name               = "flowllama-lb-adv"
  load_balancer_type = var.load_balancer_type
  vpc_id             = module.vpc.vpc_id
  subnet_ids         = module.vpc.private_subnet_ids
  certificate_arn    = var.certificate_arn
  allowed_cidrs      = [module.vpc.vpc_cidr_block]
  access_logs_bucket = var.access_logs_bucket

  tags = local.tags
}

module "security_group" {
  source = "../../../aws-security-group"

  name        = "flowllama-lb-adv"
  vpc_id      = module.vpc.vpc_id
  environment = "prod"
  # ALB: only its security group. NLB (no security group, client addresses preserved): the
  # clients' and the NLB nodes' (health checks) addresses, i.e. the VPC.
  ollama_source_security_group_ids = var.load_balancer_type == "application" ? [module.lb.security_group_id] : []
  ollama_source_cidrs              = var.load_balancer_type == "application" ? [] : [module.vpc.vpc_cidr_block]

  tags = local.tags
}

module "launch_template" {
  source = "../../../aws-launch-template"

  name               = "flowllama-lb-adv"
  instance_type      = "g5.xlarge"
  ami_id             = var.ami_id
  security_group_ids = [module.security_group.security_group_id]
  tags               = local.tags
}

module "asg" {
  source = "../../../aws-asg"

  name                    = "flowllama-lb-adv"
  subnet_ids              = module.vpc.private_subnet_ids
  launch_template_id      = module.launch_template.launch_template_id
  launch_template_version = tostring(module.launch_template.latest_version)
  target_group_arns       = [module.lb.target_group_arn]
  health_check_type       = "ELB"

  tags = local.tags
}

locals {
  tags = {
    project                = "flowllama"
    environment            = "prod"
    "flowllama:deployment" = "example"
  }
}
