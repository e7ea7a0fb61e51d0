variable "name" {
  type        = string
  description = "Name of the Auto Scaling group (lowercase letters, digits and hyphens, 2-64 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}[a-z0-9]$", var.name))
    error_message = "The name must be 2-64 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets the instances may start in (the foundation's private subnets)."

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "Give at least one subnet id (subnet-...)."
  }
}

variable "launch_template_id" {
  type        = string
  description = "The launch template's id (the aws-launch-template module's launch_template_id)."

  validation {
    condition     = can(regex("^lt-[0-9a-f]+$", var.launch_template_id))
    error_message = "The launch_template_id must look like lt-0123456789abcdef0."
  }
}

variable "launch_template_version" {
  type        = string
  description = "Template version to launch: pass the template's latest_version so a template change updates the group and starts an instance refresh (\"$Latest\" never does)."
  default     = "$Latest"

  validation {
    condition     = can(regex("^([0-9]+|\\$Latest|\\$Default)$", var.launch_template_version))
    error_message = "The launch_template_version must be a version number, $Latest or $Default."
  }
}

variable "min_size" {
  type        = number
  description = "Minimum number of instances."
  default     = 1

  validation {
    condition     = var.min_size >= 0 && floor(var.min_size) == var.min_size
    error_message = "The min_size must be a whole number, 0 or more."
  }
}

variable "max_size" {
  type        = number
  description = "Maximum number of instances."
  default     = 1

  validation {
    condition     = var.max_size >= 1 && var.max_size <= 100 && floor(var.max_size) == var.max_size
    error_message = "The max_size must be a whole number from 1 to 100."
  }
}

variable "desired_capacity" {
  type        = number
  description = "Number of instances to run (between min_size and max_size). FlowLlama runs one server per deployment."
  default     = 1

  validation {
    condition     = var.desired_capacity >= 0 && floor(var.desired_capacity) == var.desired_capacity
    error_message = "The desired_capacity must be a whole number, 0 or more."
  }
}

variable "spot_mix" {
  type        = bool
  description = "Use a mixed instances policy (Spot and on-demand per the on_demand_* inputs, several instance types) instead of the launch template alone. The template must not request Spot itself."
  default     = false
}

variable "instance_types" {
  type        = list(string)
  description = "With spot_mix: instance types the group may use (first is preferred); empty keeps the template's type."
  default     = []

  validation {
    condition     = alltrue([for t in var.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9-]+$", t))])
    error_message = "Every instance type must look like family.size, e.g. g5.xlarge."
  }
}

variable "on_demand_base_capacity" {
  type        = number
  description = "With spot_mix: instances always on-demand before any Spot."
  default     = 0

  validation {
    condition     = var.on_demand_base_capacity >= 0 && floor(var.on_demand_base_capacity) == var.on_demand_base_capacity
    error_message = "The on_demand_base_capacity must be a whole number, 0 or more."
  }
}

variable "on_demand_percentage_above_base" {
  type        = number
  description = "With spot_mix: percentage of on-demand instances above the base (0 = all Spot, 100 = all on-demand)."
  default     = 0

  validation {
    condition     = var.on_demand_percentage_above_base >= 0 && var.on_demand_percentage_above_base <= 100
    error_message = "The on_demand_percentage_above_base must be from 0 to 100."
  }
}

variable "spot_allocation_strategy" {
  type        = string
  description = "With spot_mix: how Spot capacity is chosen (price-capacity-optimized needs provider v4.36+)."
  default     = "capacity-optimized"

  validation {
    condition     = contains(["lowest-price", "capacity-optimized", "capacity-optimized-prioritized", "price-capacity-optimized"], var.spot_allocation_strategy)
    error_message = "The spot_allocation_strategy must be lowest-price, capacity-optimized, capacity-optimized-prioritized or price-capacity-optimized."
  }
}

variable "health_check_type" {
  type        = string
  description = "EC2 (instance status checks) or ELB (also the target group's /api/tags check; needs target_group_arns). Unhealthy instances are replaced."
  default     = "EC2"

  validation {
    condition     = contains(["EC2", "ELB"], var.health_check_type)
    error_message = "The health_check_type must be EC2 or ELB."
  }
}

variable "health_check_grace_period" {
  type        = number
  description = "Seconds after launch before health checks count: the boot script installs Ollama and pulls the model first."
  default     = 900

  validation {
    condition     = var.health_check_grace_period >= 0 && var.health_check_grace_period <= 7200
    error_message = "The health_check_grace_period must be from 0 to 7200 seconds."
  }
}

variable "target_group_arns" {
  type        = list(string)
  description = "Target groups to register the instances with (the aws-lb module's target_group_arn)."
  default     = []

  validation {
    condition     = alltrue([for arn in var.target_group_arns : can(regex("^arn:aws[a-z-]*:elasticloadbalancing:", arn))])
    error_message = "Every target group must be an Elastic Load Balancing ARN."
  }
}

variable "capacity_rebalance" {
  type        = bool
  description = "Launch a replacement when a Spot instance receives a rebalance recommendation, before it is interrupted."
  default     = true
}

variable "instance_refresh_enabled" {
  type        = bool
  description = "Replace instances automatically (rolling instance refresh) when the launch template or mixed instances policy changes."
  default     = true
}

variable "instance_refresh_min_healthy_percentage" {
  type        = number
  description = "Share of capacity kept in service during an instance refresh. With one server, 0 replaces it in place (brief downtime)."
  default     = 0

  validation {
    condition     = var.instance_refresh_min_healthy_percentage >= 0 && var.instance_refresh_min_healthy_percentage <= 100
    error_message = "The instance_refresh_min_healthy_percentage must be from 0 to 100."
  }
}

variable "wait_for_capacity_timeout" {
  type        = string
  description = "How long Terraform waits for desired_capacity healthy instances (\"0\" does not wait)."
  default     = "15m"

  validation {
    condition     = can(regex("^(0|[0-9]+[smh])$", var.wait_for_capacity_timeout))
    error_message = "The wait_for_capacity_timeout must be 0 or a duration such as 10m."
  }
}

variable "force_delete" {
  type        = bool
  description = "Delete the group without waiting for its instances to terminate."
  default     = false
}

variable "enabled_metrics" {
  type        = list(string)
  description = "Group metrics published to CloudWatch."
  default     = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances"]
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the group and propagated to the instances it launches."
  default     = {}
}
