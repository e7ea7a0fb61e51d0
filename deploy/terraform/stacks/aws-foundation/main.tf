# The AWS base of one region, applied once by `flowllama cloud init aws --region R`: a VPC with
# private subnets behind NAT and flow logs, the gateway-side security group (the only source
# allowed to reach Ollama), the servers' identity and the model cache bucket. Each deployment's
# aws-ollama stack builds on its outputs. No provider block: FlowLlama's rendered root sets it.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394: only the first zone_count names are used, and their order is stable when AWS adds a zone; pin exact zones with var.availability_zones
  state = "available"
}

locals {
  tags      = merge(var.tags, { project = "flowllama", environment = var.environment })
  available = data.aws_availability_zones.available.names
  zones     = length(var.availability_zones) > 0 ? var.availability_zones : slice(local.available, 0, min(var.zone_count, length(local.available)))
}

module "vpc" {
  source = "../../modules/aws-vpc"

  name                     = var.name
  cidr_block               = var.cidr_block
  availability_zones       = local.zones
  nat_gateway_mode         = var.nat_gateway_mode
  flow_logs_destination    = "cloud-watch-logs"
  flow_logs_retention_days = var.flow_logs_retention_days
  tags                     = local.tags
}

# The gateway side: FlowLlama's gateway (and the agent's health checks) run with this group;
# each deployment's server admits 11434 from it and from nothing else. It admits nothing itself.
module "gateway_security_group" {
  source = "../../modules/aws-security-group"

  name        = "${var.name}-gateway"
  vpc_id      = module.vpc.vpc_id
  environment = contains(["dev", "staging"], var.environment) ? var.environment : "prod"
  tags        = local.tags
}

# The gateway reaches the servers' Ollama port inside the VPC (the module's egress is HTTPS/DNS).
resource "aws_security_group_rule" "gateway_to_ollama" {
  type              = "egress"
  description       = "Ollama on the deployment servers"
  security_group_id = module.gateway_security_group.security_group_id
  protocol          = "tcp"
  from_port         = 11434
  to_port           = 11434
  cidr_blocks       = [module.vpc.vpc_cidr_block]
}

# The model cache; its name is derived (<name>-<account id>-<region>) so it is globally unique.
# Never force-destroyed: `flowllama cloud destroy` stops at a bucket that still holds models.
module "model_bucket" {
  source = "../../modules/aws-model-bucket"

  name = var.name
  tags = local.tags
}

module "iam" {
  source = "../../modules/aws-iam"

  name             = var.name
  model_bucket_arn = module.model_bucket.bucket_arn
  tags             = local.tags
}

# The servers' Ollama and boot logs (the boot script's CloudWatch agent ships there). Created
# here, not by the agent on first write, so it has a retention: a group the agent creates
# keeps events forever.
resource "aws_cloudwatch_log_group" "instances" {
  #checkov:skip=CKV_AWS_158: the KMS key is optional (log_kms_key_arn); without one CloudWatch Logs still encrypts at rest with its own keys.
  name              = "/flowllama/${var.name}/ollama"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = local.tags
}
