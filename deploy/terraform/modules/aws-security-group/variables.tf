variable "name" {
  type        = string
  description = "Name prefix for every resource (lowercase letters, digits and hyphens, 2-32 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "The name must be 2-32 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  type        = string
  description = "Id of the VPC the security group belongs to."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "environment" {
  type        = string
  description = "Rule set: \"dev\" and \"staging\" allow SSH from the allow-list when ssh_enabled; \"prod\" forbids SSH, Ollama sources wider than a /8 and plain-HTTP egress."
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "The environment must be dev, staging or prod."
  }
}

variable "ollama_port" {
  type        = number
  description = "The port Ollama listens on."
  default     = 11434

  validation {
    condition     = var.ollama_port >= 1 && var.ollama_port <= 65535 && floor(var.ollama_port) == var.ollama_port
    error_message = "The ollama_port must be a whole number from 1 to 65535."
  }
}

variable "ollama_source_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to reach the Ollama port (the gateway's or the load balancer's)."
  default     = []

  validation {
    condition     = alltrue([for id in var.ollama_source_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "Every source security group id must look like sg-0123456789abcdef0."
  }
}

variable "ollama_source_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to reach the Ollama port (the gateway's addresses, or the client ranges behind an NLB)."
  default     = []

  validation {
    condition     = alltrue([for c in var.ollama_source_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "Every Ollama source must be a valid IPv4 CIDR, and never 0.0.0.0/0."
  }
}

variable "ssh_enabled" {
  type        = bool
  description = "Open SSH (22/tcp) from ssh_allowed_cidrs. Off by default; refused when environment is prod."
  default     = false
}

variable "ssh_allowed_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to SSH in when ssh_enabled (an allow-list; 0.0.0.0/0 is refused)."
  default     = []

  validation {
    condition     = alltrue([for c in var.ssh_allowed_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "Every SSH source must be a valid IPv4 CIDR, and never 0.0.0.0/0."
  }
}

variable "egress_https_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs the instances may reach on 443/tcp: the Ollama release download, the model registry, S3, CloudWatch and SSM (directly, through NAT, or through interface VPC endpoints). Narrow it to the VPC CIDR when every dependency has a VPC endpoint."
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.egress_https_cidrs : can(cidrnetmask(c))])
    error_message = "Every HTTPS egress destination must be a valid IPv4 CIDR."
  }
}

variable "egress_https_prefix_list_ids" {
  type        = list(string)
  description = "Managed prefix lists reachable on 443/tcp, e.g. the S3 gateway endpoint's (pl-...)."
  default     = []

  validation {
    condition     = alltrue([for id in var.egress_https_prefix_list_ids : can(regex("^pl-[0-9a-f]+$", id))])
    error_message = "Every prefix list id must look like pl-0123456789abcdef0."
  }
}

variable "dns_resolver_cidrs" {
  type        = list(string)
  description = "Custom DNS resolvers reachable on 53/udp and 53/tcp. Empty for the VPC's Amazon DNS resolver, which security groups never filter."
  default     = []

  validation {
    condition     = alltrue([for c in var.dns_resolver_cidrs : can(cidrnetmask(c))])
    error_message = "Every DNS resolver must be a valid IPv4 CIDR."
  }
}

variable "egress_http_enabled" {
  type        = bool
  description = "Also allow 80/tcp to egress_https_cidrs, for images whose boot installs OS packages from plain-HTTP mirrors. Refused when environment is prod."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
