variable "name" {
  type        = string
  description = "Name of the cluster and prefix of every resource of this stack (e.g. flowllama-prod)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region of the cluster (the provider's region, set by the root that calls this stack)."
}

variable "environment" {
  type        = string
  description = "Environment name (prod, staging...); tagged on every resource."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be 1-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource (project and environment are added)."
  default     = {}
}

variable "kubernetes_version" {
  type        = string
  description = "EKS Kubernetes version (major.minor) of the control plane and the node groups."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones of the subnets (EKS needs at least two)."

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "cidr_block" {
  type        = string
  description = "The cluster VPC's IPv4 range."
  default     = "10.50.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be an IPv4 CIDR range."
  }
}

variable "nat_gateway_mode" {
  type        = string
  description = "NAT gateways for the private subnets the nodes run in: single (cheapest) or one_per_az."
  default     = "single"

  validation {
    condition     = contains(["single", "one_per_az"], var.nat_gateway_mode)
    error_message = "nat_gateway_mode must be single or one_per_az (nodes need NAT to pull images)."
  }
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "Networks allowed to reach the Kubernetes API endpoint from the internet; empty keeps the endpoint private (reachable from the VPC only)."
  default     = []

  validation {
    condition     = !contains(var.public_access_cidrs, "0.0.0.0/0")
    error_message = "public_access_cidrs must name the operators' networks, not 0.0.0.0/0."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days the control plane logs (api, audit, authenticator, controllerManager, scheduler) are kept."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (e.g. 30, 90, 365)."
  }
}

variable "cpu_node_group" {
  type = object({
    instance_types = list(string)
    capacity_type  = string
    ami_type       = string
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_size_gb   = number
  })
  description = "The CPU node group (api, gateway, agent, monitor, dashboard, PostgreSQL, logging)."
  default = {
    instance_types = ["m6i.large"]
    capacity_type  = "ON_DEMAND"
    ami_type       = "AL2023_x86_64_STANDARD"
    min_size       = 2
    desired_size   = 2
    max_size       = 6
    disk_size_gb   = 50
  }

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.cpu_node_group.capacity_type) && var.cpu_node_group.min_size >= 0 && var.cpu_node_group.min_size <= var.cpu_node_group.desired_size && var.cpu_node_group.desired_size <= var.cpu_node_group.max_size && var.cpu_node_group.max_size >= 1
    error_message = "cpu_node_group: capacity_type ON_DEMAND or SPOT, and 0 <= min_size <= desired_size <= max_size, max_size >= 1."
  }
}

variable "gpu_node_group" {
  type = object({
    enabled        = bool
    instance_types = list(string)
    capacity_type  = string
    ami_type       = string
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_size_gb   = number
  })
  description = "The GPU node group for the shared Ollama service (NVIDIA AMI; SPOT allowed, several instance types widen spot capacity)."
  default = {
    enabled        = true
    instance_types = ["g6.xlarge", "g5.xlarge"]
    capacity_type  = "SPOT"
    ami_type       = "AL2023_x86_64_NVIDIA"
    min_size       = 0
    desired_size   = 1
    max_size       = 4
    disk_size_gb   = 200
  }

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.gpu_node_group.capacity_type) && var.gpu_node_group.min_size >= 0 && var.gpu_node_group.min_size <= var.gpu_node_group.desired_size && var.gpu_node_group.desired_size <= var.gpu_node_group.max_size && var.gpu_node_group.max_size >= 1
    error_message = "gpu_node_group: capacity_type ON_DEMAND or SPOT, and 0 <= min_size <= desired_size <= max_size, max_size >= 1."
  }
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace the flowllama chart is installed in (the IRSA roles trust its ServiceAccounts only)."
  default     = "flowllama"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a Kubernetes namespace name."
  }
}

variable "service_accounts" {
  type = object({
    agent    = string
    loadtest = string
  })
  description = "Names of the chart's agent and loadtest ServiceAccounts (the chart names them <release>-agent and <release>-loadtest)."
  default = {
    agent    = "flowllama-agent"
    loadtest = "flowllama-loadtest"
  }
}

variable "agent_policy_json" {
  type        = string
  description = "IAM policy (JSON) of the agent's role: the aws-foundation stack's agent_policy_json output (what its Terraform runs of aws-ollama need). null: the role is created without permissions."
  default     = null

  validation {
    condition     = var.agent_policy_json == null || can(jsondecode(var.agent_policy_json).Statement)
    error_message = "agent_policy_json must be a JSON policy document with a Statement."
  }
}

variable "loadtest_results_bucket_arn" {
  type        = string
  description = "S3 bucket the scheduled load tests write results to (loadtest role: list, read, write under loadtest_results_prefix); null: no loadtest role."
  default     = null

  validation {
    condition     = var.loadtest_results_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.loadtest_results_bucket_arn))
    error_message = "loadtest_results_bucket_arn must be an S3 bucket ARN."
  }
}

variable "loadtest_results_prefix" {
  type        = string
  description = "Key prefix of the load-test results inside the bucket (ending in /)."
  default     = "loadtests/"

  validation {
    condition     = can(regex("^([A-Za-z0-9!_.*'()-]+/)+$", var.loadtest_results_prefix))
    error_message = "loadtest_results_prefix must be a key prefix ending in /, e.g. loadtests/."
  }
}

variable "extra_service_account_roles" {
  type        = map(list(string))
  description = "More IRSA roles: ServiceAccount name in the namespace => managed policy ARNs (api and gateway need none by default)."
  default     = {}
}

variable "oidc_thumbprints" {
  type        = list(string)
  description = "CA thumbprints of the cluster's OIDC issuer (IAM no longer checks them for EKS issuers, but provider versions before 5 require a value)."
  default     = ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
}
