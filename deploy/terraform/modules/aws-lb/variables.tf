variable "name" {
  type        = string
  description = "Name of the load balancer and prefix of its target group and security group (lowercase letters, digits and hyphens, 2-28 characters: AWS caps load balancer and target group names at 32)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}[a-z0-9]$", var.name))
    error_message = "The name must be 2-28 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "load_balancer_type" {
  type        = string
  description = "\"application\" (ALB: HTTP(S), its own security group, drops invalid headers) or \"network\" (NLB: TCP/TLS, keeps client addresses)."
  default     = "application"

  validation {
    condition     = contains(["application", "network"], var.load_balancer_type)
    error_message = "The load_balancer_type must be application or network."
  }
}

variable "internal" {
  type        = bool
  description = "Internal (reachable inside the VPC and peered networks only) or internet-facing."
  default     = true
}

variable "vpc_id" {
  type        = string
  description = "VPC of the load balancer and its targets."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets of the load balancer: private ones when internal, public ones when internet-facing. An ALB needs two zones or more."

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "Give at least one subnet id (subnet-...)."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate for the HTTPS (ALB) or TLS (NLB) listener. null serves plain HTTP (ALB) or TCP (NLB): only acceptable on an internal load balancer inside a private network."
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:(acm|iam):", var.certificate_arn))
    error_message = "The certificate_arn must be an ACM (or IAM server) certificate ARN."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS negotiation policy of the HTTPS/TLS listener (TLS 1.2 and 1.3 only by default)."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "listener_port" {
  type        = number
  description = "Port clients connect to; null means 443 with a certificate, 80 without."
  default     = null

  validation {
    condition     = var.listener_port == null || (coalesce(var.listener_port, 0) >= 1 && coalesce(var.listener_port, 0) <= 65535)
    error_message = "The listener_port must be from 1 to 65535."
  }
}

variable "target_port" {
  type        = number
  description = "Port of the targets (Ollama)."
  default     = 11434

  validation {
    condition     = var.target_port >= 1 && var.target_port <= 65535
    error_message = "The target_port must be from 1 to 65535."
  }
}

variable "health_check_path" {
  type        = string
  description = "HTTP path the target group checks (Ollama lists its models there once it is up)."
  default     = "/api/tags"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "The health_check_path must start with /."
  }
}

variable "allowed_cidrs" {
  type        = list(string)
  description = "ALB: IPv4 CIDRs allowed to reach the listener (the gateway side)."
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrnetmask(c))])
    error_message = "Every allowed CIDR must be a valid IPv4 CIDR."
  }
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "ALB: security groups allowed to reach the listener (the gateway's)."
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "Every security group id must look like sg-0123456789abcdef0."
  }
}

variable "cross_zone" {
  type        = bool
  description = "Spread traffic across all zones' targets (always on for ALBs; opt-out for NLBs)."
  default     = true
}

variable "idle_timeout" {
  type        = number
  description = "ALB: seconds an idle connection stays open. Long, non-streamed generations need more than AWS's 60."
  default     = 300

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "The idle_timeout must be from 1 to 4000 seconds."
  }
}

variable "deregistration_delay" {
  type        = number
  description = "Seconds a deregistering target keeps serving in-flight requests."
  default     = 60

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "The deregistration_delay must be from 0 to 3600 seconds."
  }
}

variable "access_logs_bucket" {
  type        = string
  description = "S3 bucket for access logs (its policy must let Elastic Load Balancing write); null for none."
  default     = null
}

variable "access_logs_prefix" {
  type        = string
  description = "Key prefix of the access logs."
  default     = "lb"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse deletion of the load balancer through the API (turn off before destroying)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
