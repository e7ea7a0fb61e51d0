# Two identities, kept apart:
# - the instance role + profile the Ollama servers run as (read the model cache, optionally fill
#   it, write logs and metrics);
# - the agent policy (optionally on a role): exactly what the agent's Terraform runs of the
#   aws-ollama stack call.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name

  has_bucket     = var.model_bucket_arn != null
  bucket_objects = local.has_bucket ? "${var.model_bucket_arn}/${var.model_object_prefix}*" : null
  log_groups     = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${var.log_group_prefix}*"
}

# --- Instance identity ---------------------------------------------------------------------------

resource "aws_iam_role" "instance" {
  name        = "${var.name}-instance"
  description = "FlowLlama Ollama servers of ${var.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = merge(var.tags, { Name = "${var.name}-instance" })
}

locals {
  instance_statements = concat(
    [for s in [
      {
        Sid      = "ListModelCache"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.model_bucket_arn]
        Condition = var.model_object_prefix == "" ? null : {
          StringLike = { "s3:prefix" = ["${var.model_object_prefix}*"] }
        }
      },
      {
        Sid      = "ReadModelCache"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [local.bucket_objects]
      },
    ] : s if local.has_bucket],
    local.has_bucket && var.model_cache_write_enabled ? [{
      Sid      = "FillModelCache"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
      Resource = [local.bucket_objects]
    }] : [],
    local.has_bucket && var.model_bucket_kms_key_arn != null ? [{
      Sid      = "ModelCacheKey"
      Effect   = "Allow"
      Action   = var.model_cache_write_enabled ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
      Resource = [var.model_bucket_kms_key_arn]
    }] : [],
    [
      {
        Sid      = "WriteLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:PutRetentionPolicy"]
        Resource = [local.log_groups, "${local.log_groups}:log-stream:*"]
      },
      {
        Sid       = "PutMetrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = ["*"]
        Condition = { StringEquals = { "cloudwatch:namespace" = var.metrics_namespace } }
      },
    ],
  )
}

# Null Condition keys are dropped so the JSON stays valid IAM policy grammar.
resource "aws_iam_role_policy" "instance" {
  name = "ollama-server"
  role = aws_iam_role.instance.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [for s in local.instance_statements : { for k, v in s : k => v if v != null }]
  })
}

resource "aws_iam_role_policy_attachment" "instance_extra" {
  count = length(var.instance_extra_policy_arns)

  role       = aws_iam_role.instance.name
  policy_arn = var.instance_extra_policy_arns[count.index]
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name

  tags = merge(var.tags, { Name = "${var.name}-instance" })
}

# --- Agent identity ------------------------------------------------------------------------------

locals {
  arn_prefix = "arn:${local.partition}"
  ec2_arns   = "${local.arn_prefix}:ec2:${local.region}:${local.account}"
  asg_arns   = "${local.arn_prefix}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${var.agent_name_prefix}*"
  elb_arns   = "${local.arn_prefix}:elasticloadbalancing:${local.region}:${local.account}"

  agent_statements = concat(
    [
      {
        # Read-only calls Terraform makes while planning and refreshing, and the agent's own
        # spot-interruption check (DescribeInstances, DescribeSpotInstanceRequests); no
        # resource-level permissions exist for Describe* calls.
        Sid    = "Describe"
        Effect = "Allow"
        Action = [
          "ec2:DescribeAccountAttributes",
          "ec2:DescribeAvailabilityZones",
          "ec2:DescribeImages",
          "ec2:DescribeInstanceAttribute",
          "ec2:DescribeInstanceTypeOfferings",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeInstances",
          "ec2:DescribeLaunchTemplateVersions",
          "ec2:DescribeLaunchTemplates",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeSecurityGroupRules",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSpotInstanceRequests",
          "ec2:DescribeSpotPriceHistory",
          "ec2:DescribeSubnets",
          "ec2:DescribeTags",
          "ec2:DescribeVolumes",
          "ec2:DescribeVpcs",
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeInstanceRefreshes",
          "autoscaling:DescribeLifecycleHooks",
          "autoscaling:DescribeLoadBalancerTargetGroups",
          "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags",
          "autoscaling:DescribeWarmPool",
        ]
        Resource = ["*"]
      },
      {
        Sid    = "ReadDeepLearningAmiParameter"
        Effect = "Allow"
        Action = ["ssm:GetParameter", "ssm:GetParameters"]
        # The public AMI parameters live in AWS's namespace, without an account id.
        Resource = ["${local.arn_prefix}:ssm:${local.region}::parameter/aws/service/*"]
      },
      {
        Sid    = "LaunchTemplatesAndSecurityGroups"
        Effect = "Allow"
        Action = [
          "ec2:CreateLaunchTemplate",
          "ec2:CreateLaunchTemplateVersion",
          "ec2:ModifyLaunchTemplate",
          "ec2:DeleteLaunchTemplate",
          "ec2:DeleteLaunchTemplateVersions",
          "ec2:CreateSecurityGroup",
          "ec2:DeleteSecurityGroup",
          "ec2:AuthorizeSecurityGroupIngress",
          "ec2:AuthorizeSecurityGroupEgress",
          "ec2:RevokeSecurityGroupIngress",
          "ec2:RevokeSecurityGroupEgress",
          "ec2:CreateTags",
          "ec2:DeleteTags",
        ]
        Resource = [
          "${local.ec2_arns}:launch-template/*",
          "${local.ec2_arns}:security-group/*",
          "${local.ec2_arns}:vpc/*",
        ]
      },
      {
        # Creating an Auto Scaling group from a launch template is authorised as if the caller
        # ran the instances itself.
        Sid    = "RunInstancesFromLaunchTemplate"
        Effect = "Allow"
        Action = ["ec2:RunInstances", "ec2:CreateTags"]
        Resource = [
          "${local.ec2_arns}:instance/*",
          "${local.ec2_arns}:volume/*",
          "${local.ec2_arns}:network-interface/*",
          "${local.ec2_arns}:subnet/*",
          "${local.ec2_arns}:security-group/*",
          "${local.ec2_arns}:launch-template/*",
          "${local.ec2_arns}:spot-instances-request/*",
          "${local.arn_prefix}:ec2:${local.region}::image/*",
        ]
      },
      {
        Sid    = "AutoScalingGroups"
        Effect = "Allow"
        Action = [
          "autoscaling:CreateAutoScalingGroup",
          "autoscaling:UpdateAutoScalingGroup",
          "autoscaling:DeleteAutoScalingGroup",
          "autoscaling:SetDesiredCapacity",
          "autoscaling:EnableMetricsCollection",
          "autoscaling:DisableMetricsCollection",
          "autoscaling:StartInstanceRefresh",
          "autoscaling:CancelInstanceRefresh",
          "autoscaling:CreateOrUpdateTags",
          "autoscaling:DeleteTags",
          "autoscaling:AttachLoadBalancerTargetGroups",
          "autoscaling:DetachLoadBalancerTargetGroups",
          "autoscaling:SuspendProcesses",
          "autoscaling:ResumeProcesses",
        ]
        Resource = [local.asg_arns]
      },
      {
        Sid      = "PassInstanceRole"
        Effect   = "Allow"
        Action   = ["iam:PassRole"]
        Resource = [aws_iam_role.instance.arn]
        Condition = {
          StringEquals = { "iam:PassedToService" = "ec2.amazonaws.com" }
        }
      },
      {
        Sid      = "ReadInstanceProfile"
        Effect   = "Allow"
        Action   = ["iam:GetInstanceProfile", "iam:GetRole"]
        Resource = [aws_iam_instance_profile.instance.arn, aws_iam_role.instance.arn]
      },
      {
        # The first Auto Scaling group / Spot request / load balancer of an account creates the
        # service's linked role.
        Sid      = "ServiceLinkedRoles"
        Effect   = "Allow"
        Action   = ["iam:CreateServiceLinkedRole"]
        Resource = ["${local.arn_prefix}:iam::${local.account}:role/aws-service-role/*"]
        Condition = {
          StringEquals = {
            "iam:AWSServiceName" = concat(
              ["autoscaling.amazonaws.com", "spot.amazonaws.com"],
              var.agent_elb_enabled ? ["elasticloadbalancing.amazonaws.com"] : [],
            )
          }
        }
      },
    ],
    [for s in [
      {
        Sid    = "DescribeLoadBalancing"
        Effect = "Allow"
        Action = [
          "elasticloadbalancing:DescribeListeners",
          "elasticloadbalancing:DescribeLoadBalancerAttributes",
          "elasticloadbalancing:DescribeLoadBalancers",
          "elasticloadbalancing:DescribeTags",
          "elasticloadbalancing:DescribeTargetGroupAttributes",
          "elasticloadbalancing:DescribeTargetGroups",
          "elasticloadbalancing:DescribeTargetHealth",
        ]
        Resource = ["*"]
      },
      {
        Sid    = "LoadBalancers"
        Effect = "Allow"
        Action = [
          "elasticloadbalancing:CreateLoadBalancer",
          "elasticloadbalancing:DeleteLoadBalancer",
          "elasticloadbalancing:ModifyLoadBalancerAttributes",
          "elasticloadbalancing:SetSecurityGroups",
          "elasticloadbalancing:SetSubnets",
          "elasticloadbalancing:CreateTargetGroup",
          "elasticloadbalancing:DeleteTargetGroup",
          "elasticloadbalancing:ModifyTargetGroup",
          "elasticloadbalancing:ModifyTargetGroupAttributes",
          "elasticloadbalancing:CreateListener",
          "elasticloadbalancing:DeleteListener",
          "elasticloadbalancing:ModifyListener",
          "elasticloadbalancing:AddTags",
          "elasticloadbalancing:RemoveTags",
        ]
        Resource = [
          "${local.elb_arns}:loadbalancer/app/${var.agent_name_prefix}*/*",
          "${local.elb_arns}:loadbalancer/net/${var.agent_name_prefix}*/*",
          "${local.elb_arns}:targetgroup/${var.agent_name_prefix}*/*",
          "${local.elb_arns}:listener/app/${var.agent_name_prefix}*/*",
          "${local.elb_arns}:listener/net/${var.agent_name_prefix}*/*",
        ]
      },
    ] : s if var.agent_elb_enabled],
    [for s in [
      {
        Sid      = "StateBucketList"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.agent_state_bucket_arn]
      },
      {
        Sid      = "StateObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = ["${coalesce(var.agent_state_bucket_arn, "unused")}/*"]
      },
    ] : s if var.agent_state_bucket_arn != null],
    var.agent_lock_table_arn != null ? [{
      Sid      = "StateLockTable"
      Effect   = "Allow"
      Action   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
      Resource = [var.agent_lock_table_arn]
    }] : [],
  )
}

resource "aws_iam_policy" "agent" {
  #checkov:skip=CKV_AWS_355: only Describe* calls, which have no resource-level permissions, use "*".
  #checkov:skip=CKV_AWS_290: every write action is scoped to this account and region's launch templates, security groups, fl-* groups and load balancers, and the instance role only.
  #checkov:skip=CKV_AWS_289: iam:PassRole is limited to the instance role and to EC2; iam:CreateServiceLinkedRole to the Auto Scaling, Spot and ELB services.
  count = var.agent_policy_enabled ? 1 : 0

  name        = "${var.name}-agent"
  description = "FlowLlama agent: Terraform runs of the aws-ollama stack"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.agent_statements
  })

  tags = merge(var.tags, { Name = "${var.name}-agent" })
}

resource "aws_iam_role" "agent" {
  count = var.agent_role_trust_policy_json != null ? 1 : 0

  name               = "${var.name}-agent"
  description        = "FlowLlama agent of ${var.name}"
  assume_role_policy = var.agent_role_trust_policy_json

  tags = merge(var.tags, { Name = "${var.name}-agent" })

  lifecycle {
    precondition {
      condition     = var.agent_policy_enabled
      error_message = "An agent role needs the agent policy (agent_policy_enabled = true)."
    }
  }
}

resource "aws_iam_role_policy_attachment" "agent" {
  count = var.agent_role_trust_policy_json != null && var.agent_policy_enabled ? 1 : 0

  role       = aws_iam_role.agent[0].name
  policy_arn = aws_iam_policy.agent[0].arn
}
