variable "name" {
  description = "Prefix of every firewall rule name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}[a-z0-9]$", var.name))
    error_message = "name must be 2-42 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "project_id" {
  description = "GCP project of the network."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "network" {
  description = "Self link, id or name of the VPC network the rules belong to."
  type        = string
}

variable "environment" {
  description = "Environment whose rule set applies: dev (SSH may be enabled, no rule logging), staging (SSH may be enabled, logging), prod (SSH refused, logging)."
  type        = string
  default     = "prod"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "target_tags" {
  description = "Network tags of the Ollama servers the rules apply to (unless target_service_accounts is set)."
  type        = list(string)
  default     = ["flowllama-ollama"]

  validation {
    condition     = length(var.target_tags) > 0 && alltrue([for t in var.target_tags : can(regex("^[a-z][a-z0-9-]{0,62}$", t))])
    error_message = "target_tags must hold at least one valid network tag."
  }
}

variable "target_service_accounts" {
  description = "Service accounts of the Ollama servers the rules apply to; when set, they replace target_tags (an identity cannot be added to a VM as easily as a tag)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.target_service_accounts : can(regex("^[^@\\s]+@[a-z0-9.-]+$", e))])
    error_message = "target_service_accounts must be service account emails."
  }
}

variable "ollama_port" {
  description = "The Ollama port opened to the gateway."
  type        = number
  default     = 11434

  validation {
    condition     = var.ollama_port >= 1 && var.ollama_port <= 65535 && floor(var.ollama_port) == var.ollama_port
    error_message = "ollama_port must be a whole number from 1 to 65535."
  }
}

variable "gateway_source_ranges" {
  description = "CIDR ranges the gateway connects from (e.g. its subnet or its NAT addresses). Never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.gateway_source_ranges : can(cidrhost(r, 0)) && r != "0.0.0.0/0"])
    error_message = "gateway_source_ranges must be valid CIDRs other than 0.0.0.0/0."
  }
}

variable "gateway_source_tags" {
  description = "Network tags of the gateway's instances (same network) allowed to reach the Ollama port."
  type        = list(string)
  default     = ["flowllama-gateway"]

  validation {
    condition     = alltrue([for t in var.gateway_source_tags : can(regex("^[a-z][a-z0-9-]{0,62}$", t))])
    error_message = "gateway_source_tags must be valid network tags."
  }
}

variable "allow_health_checks" {
  description = "Also allow Google's load balancer and autohealing health checkers (35.191.0.0/16, 130.211.0.0/22) to the Ollama port."
  type        = bool
  default     = true
}

variable "ssh_enabled" {
  description = "Open SSH (22) from ssh_source_ranges. Off by default and refused in prod."
  type        = bool
  default     = false
}

variable "ssh_source_ranges" {
  description = "The allow-list SSH comes from when enabled (e.g. IAP's 35.235.240.0/20 or an office range). Never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.ssh_source_ranges : can(cidrhost(r, 0)) && r != "0.0.0.0/0"])
    error_message = "ssh_source_ranges must be valid CIDRs other than 0.0.0.0/0."
  }
}

variable "egress_https_ranges" {
  description = "Where servers may open HTTPS (443): the Ollama release download, the Ollama model registry and Google APIs. The registry sits behind a CDN without fixed ranges, hence the default; narrow it when a release mirror and a filled model cache make that possible."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.egress_https_ranges) > 0 && alltrue([for r in var.egress_https_ranges : can(cidrhost(r, 0))])
    error_message = "egress_https_ranges must hold at least one valid CIDR."
  }
}

variable "labels" {
  description = "Labels for every labelable resource. GCP firewall rules take no labels, so this module has none to apply; it is accepted for one interface across modules."
  type        = map(string)
  default     = {}
}
