# The launch template of an Ollama server: a GPU-capable image, IMDSv2 only (hop limit 1, so
# containers on the host cannot reach the instance credentials), an encrypted root volume sized
# for the model, optional Spot, the boot script as user data, and tags that reach the instances
# and volumes it launches.

# Looked up only without an explicit ami_id. `value` is the attribute every provider version has
# (v6 adds insecure_value); an AMI id is not secret, so it is taken out of the sensitive marking.
data "aws_ssm_parameter" "ami" {
  count = var.ami_id == null ? 1 : 0

  name = var.ami_ssm_parameter
}

locals {
  image_id      = var.ami_id != null ? var.ami_id : nonsensitive(data.aws_ssm_parameter.ami[0].value)
  instance_tags = merge(var.tags, { Name = var.name })

  # EC2 takes at most 16 KiB of user data before base64. The boot script is larger than that as
  # text, so it goes gzip-compressed (cloud-init, on the Ubuntu and Amazon Linux images, detects
  # and unpacks gzip user data); base64 text is 4/3 of the bytes it encodes.
  user_data       = var.user_data == "" ? null : (var.user_data_gzip ? base64gzip(var.user_data) : base64encode(var.user_data))
  user_data_bytes = local.user_data == null ? 0 : floor(length(local.user_data) * 3 / 4)
}

resource "aws_launch_template" "this" {
  name                   = var.name
  description            = "FlowLlama Ollama server ${var.name} (${var.instance_type})"
  image_id               = local.image_id
  instance_type          = var.instance_type
  key_name               = var.key_name
  user_data              = local.user_data
  vpc_security_group_ids = var.security_group_ids
  ebs_optimized          = true
  update_default_version = true

  dynamic "iam_instance_profile" {
    for_each = var.instance_profile_name == null ? [] : [var.instance_profile_name]
    content {
      name = iam_instance_profile.value
    }
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = var.root_device_name

    ebs {
      volume_size           = var.root_volume_gb
      volume_type           = var.root_volume_type
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  dynamic "instance_market_options" {
    for_each = var.spot ? [1] : []
    content {
      market_type = "spot"
      spot_options {
        max_price                      = var.spot_max_price
        spot_instance_type             = "one-time"
        instance_interruption_behavior = "terminate"
      }
    }
  }

  monitoring {
    enabled = var.detailed_monitoring
  }

  tag_specifications {
    resource_type = "instance"
    tags          = local.instance_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.instance_tags
  }

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = local.user_data_bytes <= 16384
      error_message = "The user data is ${local.user_data_bytes} bytes${var.user_data_gzip ? " gzip-compressed" : ""}: EC2 takes at most 16 KiB."
    }
  }
}
