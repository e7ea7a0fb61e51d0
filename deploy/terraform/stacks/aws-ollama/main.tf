# One deployment's Ollama server on AWS: a launch template (IMDSv2, encrypted root disk, the
# shared boot script as user data) run by an auto-scaling group of one in the foundation's
# private subnets, on spot or on-demand capacity as the offer says, behind a security group that
# admits Ollama's port only from the gateway side. The group replaces a dead server by itself.
# No provider block: FlowLlama's rendered root configures it (region from the offer).

locals {
  tags = merge(var.tags, { project = "flowllama", environment = var.environment })
  # The security group module takes names of at most 32 characters; fl-<32-hex id> has 35. The
  # full id stays in the flowllama:deployment tag. A deployment's other servers (fl-<id>-s1, a
  # replica or a blue/green replacement beside the first) would truncate to the same name, so
  # theirs end in a hash of the whole name instead.
  slotted    = can(regex("-s[0-9]+$", var.deployment_name))
  group_name = local.slotted ? "${substr(var.deployment_name, 0, 24)}-${substr(sha1(var.deployment_name), 0, 7)}" : replace(substr(var.deployment_name, 0, 32), "/-+$/", "")
  # The offer's zone (a name like us-east-1a or, from spot prices, an id like use1-az2) narrows
  # the subnets when the foundation has one there; otherwise every private subnet.
  subnet_ids = var.zone == null ? var.foundation.private_subnet_ids : coalescelist(
    [for id, subnet in data.aws_subnet.private : id if contains([subnet.availability_zone, subnet.availability_zone_id], var.zone)],
    var.foundation.private_subnet_ids,
  )
}

data "aws_subnet" "private" {
  for_each = toset(var.foundation.private_subnet_ids)
  id       = each.value
}

module "boot" {
  source = "../../modules/ollama-boot"

  name            = var.deployment_name
  cloud           = "aws"
  environment     = var.environment
  deployment_id   = var.deployment_id
  display_name    = var.display_name
  model           = var.model
  context_length  = var.context_size
  num_parallel    = var.parallel
  gpu_expected    = var.gpu_count > 0
  ollama_version  = var.ollama_version
  ollama_sha256   = var.ollama_sha256
  model_cache_uri = "s3://${var.foundation.model_bucket_name}/models"
  log_group_name  = var.foundation.instance_log_group_name
}

# Ollama's port from the gateway side only; no SSH. Environments other than dev/staging get the
# module's strictest (prod) rule set.
module "security_group" {
  source = "../../modules/aws-security-group"

  name                             = local.group_name
  vpc_id                           = var.foundation.vpc_id
  environment                      = contains(["dev", "staging"], var.environment) ? var.environment : "prod"
  ollama_source_security_group_ids = [var.foundation.gateway_security_group_id]
  tags                             = local.tags
}

module "launch_template" {
  source = "../../modules/aws-launch-template"

  name                  = var.deployment_name
  ami_id                = var.image_id
  instance_type         = var.instance_type
  spot                  = var.spot
  user_data             = module.boot.user_data
  security_group_ids    = [module.security_group.security_group_id]
  instance_profile_name = var.foundation.instance_profile_name
  root_volume_gb        = var.root_volume_size_gb
  tags                  = local.tags
}

module "asg" {
  source = "../../modules/aws-asg"

  name                    = var.deployment_name
  launch_template_id      = module.launch_template.launch_template_id
  launch_template_version = module.launch_template.latest_version
  subnet_ids              = local.subnet_ids
  min_size                = var.running ? 1 : 0
  max_size                = 1
  desired_capacity        = var.running ? 1 : 0
  tags                    = local.tags
}

# The group launches the server itself; read it back by the group's own tag.
data "aws_instances" "server" {
  instance_tags = {
    "aws:autoscaling:groupName" = module.asg.autoscaling_group_name
  }
  instance_state_names = ["pending", "running"]

  depends_on = [module.asg]
}
