variable "name" {
  type        = string
  description = "Name prefix for every resource (lowercase letters, digits and hyphens, 2-32 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "The name must be 2-32 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "cidr_block" {
  type        = string
  description = "The VPC's IPv4 CIDR block."
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.cidr_block)) && tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 24
    error_message = "The cidr_block must be an IPv4 CIDR between /16 and /24."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to spread the subnets over: one public and one private subnet in each (1-6 zones)."

  validation {
    condition     = length(var.availability_zones) >= 1 && length(var.availability_zones) <= 6 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "Give 1 to 6 distinct availability zones."
  }
}

variable "public_subnet_cidrs" {
  type        = list(string)
  description = "CIDRs of the public subnets, one per availability zone; empty to carve them from cidr_block (cidrsubnet index 0, 1, ...)."
  default     = []

  validation {
    condition     = alltrue([for c in var.public_subnet_cidrs : can(cidrnetmask(c))])
    error_message = "Every public subnet CIDR must be a valid IPv4 CIDR."
  }
}

variable "private_subnet_cidrs" {
  type        = list(string)
  description = "CIDRs of the private subnets, one per availability zone; empty to carve them from the upper half of cidr_block."
  default     = []

  validation {
    condition     = alltrue([for c in var.private_subnet_cidrs : can(cidrnetmask(c))])
    error_message = "Every private subnet CIDR must be a valid IPv4 CIDR."
  }
}

variable "subnet_newbits" {
  type        = number
  description = "Bits added to the VPC prefix for carved subnets (8 turns a /16 into /24 subnets)."
  default     = 8

  validation {
    condition     = var.subnet_newbits >= 2 && var.subnet_newbits <= 12 && floor(var.subnet_newbits) == var.subnet_newbits
    error_message = "The subnet_newbits must be a whole number from 2 to 12."
  }
}

variable "nat_gateway_mode" {
  type        = string
  description = "Outbound internet for the private subnets: \"single\" (one NAT gateway, cheapest), \"per_az\" (one per zone, survives a zone outage) or \"none\"."
  default     = "single"

  validation {
    condition     = contains(["single", "per_az", "none"], var.nat_gateway_mode)
    error_message = "The nat_gateway_mode must be single, per_az or none."
  }
}

variable "flow_logs_destination" {
  type        = string
  description = "Where VPC flow logs go: \"cloud-watch-logs\", \"s3\" (needs flow_logs_s3_bucket_arn) or \"none\"."
  default     = "cloud-watch-logs"

  validation {
    condition     = contains(["cloud-watch-logs", "s3", "none"], var.flow_logs_destination)
    error_message = "The flow_logs_destination must be cloud-watch-logs, s3 or none."
  }
}

variable "flow_logs_s3_bucket_arn" {
  type        = string
  description = "ARN of the S3 bucket (optionally with a /prefix) receiving flow logs when flow_logs_destination is \"s3\"."
  default     = null

  validation {
    condition     = var.flow_logs_s3_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+(/.*)?$", var.flow_logs_s3_bucket_arn))
    error_message = "The flow_logs_s3_bucket_arn must be an S3 bucket ARN."
  }
}

variable "flow_logs_traffic_type" {
  type        = string
  description = "Traffic the flow logs record: ACCEPT, REJECT or ALL."
  default     = "ALL"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_logs_traffic_type)
    error_message = "The flow_logs_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

variable "flow_logs_retention_days" {
  type        = number
  description = "Days the CloudWatch flow log group keeps events."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653], var.flow_logs_retention_days)
    error_message = "The flow_logs_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827 or 3653)."
  }
}

variable "flow_logs_kms_key_arn" {
  type        = string
  description = "KMS key ARN encrypting the CloudWatch flow log group; null keeps CloudWatch Logs' default encryption."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
