# Group logic with a mocked provider: single template vs mixed instances, health checks, refresh,
# tag propagation, and the preconditions.

mock_provider "aws" {}

variables {
  name               = "tasg"
  subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  launch_template_id = "lt-0123456789abcdef0"
  tags               = { project = "flowllama", "flowllama:deployment" = "d1" }
}

run "single_template_group_of_one" {
  command = plan

  assert {
    condition     = length(aws_autoscaling_group.this.launch_template) == 1 && length(aws_autoscaling_group.this.mixed_instances_policy) == 0
    error_message = "The template alone without spot_mix."
  }
  assert {
    condition     = aws_autoscaling_group.this.min_size == 1 && aws_autoscaling_group.this.max_size == 1 && aws_autoscaling_group.this.desired_capacity == 1
    error_message = "A group of one by default."
  }
  assert {
    condition     = aws_autoscaling_group.this.instance_refresh[0].strategy == "Rolling"
    error_message = "Instance refresh on template change."
  }
  assert {
    condition     = length(aws_autoscaling_group.this.tag) == 3 && alltrue([for t in aws_autoscaling_group.this.tag : t.propagate_at_launch])
    error_message = "Every tag (and Name) propagates to the instances."
  }
}

run "spot_mix" {
  command = plan

  variables {
    spot_mix                        = true
    instance_types                  = ["g5.xlarge", "g6.xlarge"]
    on_demand_base_capacity         = 1
    on_demand_percentage_above_base = 25
    min_size                        = 1
    max_size                        = 4
    desired_capacity                = 2
  }

  assert {
    condition     = length(aws_autoscaling_group.this.launch_template) == 0 && length(aws_autoscaling_group.this.mixed_instances_policy) == 1
    error_message = "A mixed instances policy with spot_mix."
  }
  assert {
    condition     = aws_autoscaling_group.this.mixed_instances_policy[0].instances_distribution[0].on_demand_base_capacity == 1 && aws_autoscaling_group.this.mixed_instances_policy[0].instances_distribution[0].on_demand_percentage_above_base_capacity == 25
    error_message = "The on-demand base and percentage reach the policy."
  }
  assert {
    condition     = [for o in aws_autoscaling_group.this.mixed_instances_policy[0].launch_template[0].override : o.instance_type] == ["g5.xlarge", "g6.xlarge"]
    error_message = "One override per instance type, in order."
  }
}

run "elb_health_with_target_group" {
  command = plan

  variables {
    health_check_type = "ELB"
    target_group_arns = ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fl-x/0123456789abcdef"]
  }

  assert {
    condition     = aws_autoscaling_group.this.health_check_type == "ELB" && length(aws_autoscaling_group.this.target_group_arns) == 1
    error_message = "ELB health checks with the target group attached."
  }
}

run "elb_health_needs_target_group" {
  command = plan

  variables {
    health_check_type = "ELB"
  }

  expect_failures = [aws_autoscaling_group.this]
}

run "desired_within_bounds" {
  command = plan

  variables {
    desired_capacity = 3
  }

  expect_failures = [aws_autoscaling_group.this]
}

run "instance_types_need_spot_mix" {
  command = plan

  variables {
    instance_types = ["g5.xlarge"]
  }

  expect_failures = [aws_autoscaling_group.this]
}

run "no_refresh_when_disabled" {
  command = plan

  variables {
    instance_refresh_enabled = false
  }

  assert {
    condition     = length(aws_autoscaling_group.this.instance_refresh) == 0
    error_message = "No instance_refresh block when disabled."
  }
}
