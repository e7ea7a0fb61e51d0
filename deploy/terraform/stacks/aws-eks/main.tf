# FlowLlama's Kubernetes cluster on AWS: a VPC (aws-vpc) with the nodes in private subnets, an
# EKS control plane (private endpoint by default, secrets envelope-encrypted with KMS, every
# control-plane log type in CloudWatch Logs), a CPU node group for the platform's roles, a GPU
# node group (spot allowed) for the shared Ollama service, the OIDC provider for IAM roles for
# service accounts (IRSA) and the roles the flowllama chart's ServiceAccounts use (irsa.tf).
# No provider block: the root that calls this stack configures it.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  tags         = merge(var.tags, { project = "flowllama", environment = var.environment })
  partition    = data.aws_partition.current.partition
  account      = data.aws_caller_identity.current.account_id
  policy_arn   = "arn:${local.partition}:iam::aws:policy"
  log_group    = "/aws/eks/${var.name}/cluster"
  subnet_count = length(var.availability_zones)
}

module "vpc" {
  source = "../../modules/aws-vpc"

  name                     = var.name
  cidr_block               = var.cidr_block
  availability_zones       = var.availability_zones
  nat_gateway_mode         = var.nat_gateway_mode
  flow_logs_destination    = "cloud-watch-logs"
  flow_logs_retention_days = var.log_retention_days
  tags                     = merge(local.tags, { "kubernetes.io/cluster/${var.name}" = "shared" })
}

# Where the AWS Load Balancer Controller may put load balancers: internet-facing ones in the
# public subnets, internal ones in the private subnets.
resource "aws_ec2_tag" "public_elb" {
  count = local.subnet_count

  resource_id = module.vpc.public_subnet_ids[count.index]
  key         = "kubernetes.io/role/elb"
  value       = "1"
}

resource "aws_ec2_tag" "private_elb" {
  count = local.subnet_count

  resource_id = module.vpc.private_subnet_ids[count.index]
  key         = "kubernetes.io/role/internal-elb"
  value       = "1"
}

# One key for the cluster's Kubernetes secrets and its control-plane log group.
resource "aws_kms_key" "cluster" {
  description         = "${var.name}: EKS secrets and control-plane logs"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "ControlPlaneLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnEquals = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account}:log-group:${local.log_group}"
          }
        }
      },
    ]
  })
  tags = local.tags
}

# Created before the cluster, so EKS writes into a group with our retention and key.
resource "aws_cloudwatch_log_group" "cluster" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.cluster.arn
  tags              = local.tags
}

resource "aws_iam_role" "cluster" {
  name = "${var.name}-eks-cluster"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "eks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "${local.policy_arn}/AmazonEKSClusterPolicy"
}

resource "aws_eks_cluster" "this" {
  name                      = var.name
  role_arn                  = aws_iam_role.cluster.arn
  version                   = var.kubernetes_version
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  vpc_config {
    subnet_ids              = module.vpc.private_subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = length(var.public_access_cidrs) > 0
    public_access_cidrs     = length(var.public_access_cidrs) > 0 ? var.public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.cluster.arn
    }
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.cluster]
}

resource "aws_iam_role" "node" {
  name = "${var.name}-eks-node"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"])

  role       = aws_iam_role.node.name
  policy_arn = "${local.policy_arn}/${each.value}"
}

locals {
  node_groups = merge(
    { cpu = var.cpu_node_group },
    var.gpu_node_group.enabled ? { gpu = var.gpu_node_group } : {},
  )
}

# Nodes carry flowllama.io/pool=cpu|gpu; GPU nodes also nvidia.com/gpu.present=true, the label
# the chart's Ollama StatefulSet selects by default (as NVIDIA's GPU feature discovery sets it).
resource "aws_eks_node_group" "this" {
  for_each = local.node_groups

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.name}-${each.key}"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = module.vpc.private_subnet_ids
  version         = var.kubernetes_version
  instance_types  = each.value.instance_types
  capacity_type   = each.value.capacity_type
  ami_type        = each.value.ami_type
  disk_size       = each.value.disk_size_gb
  labels          = merge({ "flowllama.io/pool" = each.key }, each.key == "gpu" ? { "nvidia.com/gpu.present" = "true" } : {})

  scaling_config {
    min_size     = each.value.min_size
    desired_size = each.value.desired_size
    max_size     = each.value.max_size
  }

  tags = local.tags

  # A cluster autoscaler changes the desired size; a re-apply must not undo it.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}
