variable "name" {
  type        = string
  description = "Name prefix for every resource of this foundation (e.g. flowllama-prod)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region of this foundation (the provider's region, set by the rendered root)."
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

variable "zone_count" {
  type        = number
  description = "Availability zones to spread the subnets over."
  default     = 2

  validation {
    condition     = var.zone_count >= 1 && var.zone_count <= 6 && floor(var.zone_count) == var.zone_count
    error_message = "zone_count must be a whole number from 1 to 6."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Exact availability zones (names) to use; empty takes the first zone_count available ones."
  default     = []
}

variable "cidr_block" {
  type        = string
  description = "The VPC's IPv4 range."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be an IPv4 CIDR range."
  }
}

variable "nat_gateway_mode" {
  type        = string
  description = "NAT gateways: single (cheapest), one_per_az (zone-independent) or none."
  default     = "single"
}

variable "flow_logs_retention_days" {
  type        = number
  description = "Days the VPC flow logs are kept in CloudWatch Logs."
  default     = 365
}

variable "log_retention_days" {
  type        = number
  description = "Days the servers' log group (Ollama and boot logs) keeps events (a year by default, as audits expect)."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827 or 3653)."
  }
}

variable "log_kms_key_arn" {
  type        = string
  description = "KMS key ARN encrypting the servers' log group; null keeps CloudWatch Logs' default encryption."
  default     = null
}
