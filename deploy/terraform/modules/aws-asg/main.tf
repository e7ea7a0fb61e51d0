# The Auto Scaling group that keeps a deployment's Ollama server(s) running: replaces unhealthy
# instances (EC2 or load balancer health checks), refreshes them when the launch template
# changes, mixes Spot and on-demand when asked, and registers them with target groups.

locals {
  group_tags = merge(var.tags, { Name = var.name })
}

resource "aws_autoscaling_group" "this" {
  name                      = var.name
  vpc_zone_identifier       = var.subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  health_check_type         = var.health_check_type
  health_check_grace_period = var.health_check_grace_period
  target_group_arns         = var.target_group_arns
  capacity_rebalance        = var.capacity_rebalance
  wait_for_capacity_timeout = var.wait_for_capacity_timeout
  force_delete              = var.force_delete
  enabled_metrics           = var.enabled_metrics

  # Either the launch template alone...
  dynamic "launch_template" {
    for_each = var.spot_mix ? [] : [1]
    content {
      id      = var.launch_template_id
      version = var.launch_template_version
    }
  }

  # ...or a mixed instances policy over it.
  dynamic "mixed_instances_policy" {
    for_each = var.spot_mix ? [1] : []
    content {
      instances_distribution {
        on_demand_base_capacity                  = var.on_demand_base_capacity
        on_demand_percentage_above_base_capacity = var.on_demand_percentage_above_base
        spot_allocation_strategy                 = var.spot_allocation_strategy
      }

      launch_template {
        launch_template_specification {
          launch_template_id = var.launch_template_id
          version            = var.launch_template_version
        }

        dynamic "override" {
          for_each = var.instance_types
          content {
            instance_type = override.value
          }
        }
      }
    }
  }

  dynamic "instance_refresh" {
    for_each = var.instance_refresh_enabled ? [1] : []
    content {
      strategy = "Rolling"
      preferences {
        min_healthy_percentage = var.instance_refresh_min_healthy_percentage
      }
    }
  }

  # `tag` blocks: the only form both provider 3.39 and v6 accept (v5 removed the `tags` list).
  dynamic "tag" {
    for_each = local.group_tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    precondition {
      condition     = var.min_size <= var.desired_capacity && var.desired_capacity <= var.max_size
      error_message = "desired_capacity must lie between min_size and max_size."
    }
    precondition {
      condition     = var.health_check_type != "ELB" || length(var.target_group_arns) > 0
      error_message = "health_check_type = \"ELB\" needs at least one target group."
    }
    precondition {
      condition     = var.spot_mix || length(var.instance_types) == 0
      error_message = "instance_types only applies with spot_mix = true."
    }
  }
}
