# Policy logic with a mocked provider: which statements each input adds.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/ti-instance" }
  }
  mock_resource "aws_iam_instance_profile" {
    defaults = { arn = "arn:aws:iam::123456789012:instance-profile/ti-instance" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::123456789012:policy/ti-agent" }
  }
}

variables {
  name             = "ti"
  model_bucket_arn = "arn:aws:s3:::models"
}

run "instance_reads_and_fills_the_cache" {
  command = plan

  assert {
    condition     = contains([for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid], "FillModelCache")
    error_message = "Cache writes are on by default."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Resource if s.Sid == "ReadModelCache"][0] == ["arn:aws:s3:::models/models/*"]
    error_message = "Reads are limited to the model prefix."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Condition if s.Sid == "PutMetrics"][0].StringEquals["cloudwatch:namespace"] == "CWAgent"
    error_message = "Metrics only in the agent's namespace."
  }
  assert {
    condition     = length(aws_iam_role.agent) == 0 && length(aws_iam_policy.agent) == 1
    error_message = "Agent policy only, no role, without a trust policy."
  }
}

run "read_only_cache_with_kms" {
  command = plan

  variables {
    model_cache_write_enabled = false
    model_bucket_kms_key_arn  = "arn:aws:kms:us-east-1:123456789012:key/abc"
  }

  assert {
    condition     = !contains([for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid], "FillModelCache")
    error_message = "No PutObject when writes are off."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Action if s.Sid == "ModelCacheKey"][0] == ["kms:Decrypt"]
    error_message = "Decrypt only when the cache is read-only."
  }
}

run "no_bucket_no_s3" {
  command = plan

  variables {
    model_bucket_arn = null
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s if startswith(s.Sid, "ReadModel") || startswith(s.Sid, "ListModel")]) == 0
    error_message = "No S3 statement without a bucket."
  }
}

run "agent_role_elb_and_state" {
  command = apply

  variables {
    agent_role_trust_policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},\"Action\":\"sts:AssumeRole\"}]}"
    agent_elb_enabled            = true
    agent_state_bucket_arn       = "arn:aws:s3:::state"
  }

  assert {
    condition     = length(aws_iam_role.agent) == 1 && length(aws_iam_role_policy_attachment.agent) == 1
    error_message = "A trust policy creates the agent role with the policy attached."
  }
  assert {
    condition     = toset([for s in jsondecode(output.agent_policy_json).Statement : s.Sid]) == toset(["Describe", "ReadDeepLearningAmiParameter", "LaunchTemplatesAndSecurityGroups", "RunInstancesFromLaunchTemplate", "AutoScalingGroups", "PassInstanceRole", "ReadInstanceProfile", "ServiceLinkedRoles", "DescribeLoadBalancing", "LoadBalancers", "StateBucketList", "StateObjects"])
    error_message = "The agent gets exactly the listed statements."
  }
  assert {
    condition     = [for s in jsondecode(output.agent_policy_json).Statement : s.Resource if s.Sid == "PassInstanceRole"][0] == ["arn:aws:iam::123456789012:role/ti-instance"]
    error_message = "PassRole only for the instance role."
  }
}

run "agent_without_elb" {
  command = apply

  assert {
    condition     = !contains([for s in jsondecode(output.agent_policy_json).Statement : s.Sid], "LoadBalancers")
    error_message = "No ELB permissions unless asked."
  }
  # The scoping a live test against moto cannot see (moto matches actions only).
  assert {
    condition     = [for s in jsondecode(output.agent_policy_json).Statement : s.Sid if contains(s.Resource, "*")] == ["Describe"]
    error_message = "Only the Describe calls (no resource-level permissions) get Resource *."
  }
  assert {
    condition     = alltrue([for r in [for s in jsondecode(output.agent_policy_json).Statement : s.Resource if s.Sid == "LaunchTemplatesAndSecurityGroups"][0] : startswith(r, "arn:aws:ec2:us-east-1:123456789012:")])
    error_message = "Launch template and security group writes stay in this account and region."
  }
  assert {
    condition     = [for s in jsondecode(output.agent_policy_json).Statement : s.Resource if s.Sid == "AutoScalingGroups"][0] == ["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/fl-*"]
    error_message = "Auto Scaling writes only on fl-* groups of this account and region."
  }
  assert {
    condition     = [for s in jsondecode(output.agent_policy_json).Statement : s.Condition if s.Sid == "PassInstanceRole"][0].StringEquals["iam:PassedToService"] == "ec2.amazonaws.com"
    error_message = "The instance role is passed to EC2 only."
  }
  assert {
    condition     = [for s in jsondecode(output.agent_policy_json).Statement : s.Condition if s.Sid == "ServiceLinkedRoles"][0].StringEquals["iam:AWSServiceName"] == ["autoscaling.amazonaws.com", "spot.amazonaws.com"]
    error_message = "Service-linked roles of Auto Scaling and Spot only (no ELB unless asked)."
  }
}

run "role_needs_policy" {
  command = plan

  variables {
    agent_policy_enabled         = false
    agent_role_trust_policy_json = "{\"Statement\":[]}"
  }

  expect_failures = [aws_iam_role.agent]
}

run "rejects_bad_prefix" {
  command = plan

  variables {
    model_object_prefix = "models"
  }

  expect_failures = [var.model_object_prefix]
}
