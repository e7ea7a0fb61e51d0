variable "name" {
  description = "Prefix of every load balancer resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}[a-z0-9]$", var.name))
    error_message = "name must be 2-42 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "project_id" {
  description = "GCP project of the load balancer."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "backend_groups" {
  description = "Instance group self links serving Ollama (gcp-mig's instance_group), in any zones."
  type        = list(string)

  validation {
    condition     = length(var.backend_groups) > 0
    error_message = "backend_groups must hold at least one instance group."
  }
}

variable "port_name" {
  description = "The groups' named port for Ollama."
  type        = string
  default     = "ollama"
}

variable "port" {
  description = "The Ollama port the health check probes."
  type        = number
  default     = 11434

  validation {
    condition     = var.port >= 1 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "port must be a whole number from 1 to 65535."
  }
}

variable "health_check_path" {
  description = "HTTP path the load balancer's health check requests."
  type        = string
  default     = "/api/tags"
}

variable "timeout_sec" {
  description = "Backend response timeout: long, as generations stream for minutes."
  type        = number
  default     = 600

  validation {
    condition     = var.timeout_sec >= 1 && var.timeout_sec <= 86400
    error_message = "timeout_sec must be from 1 to 86400."
  }
}

variable "ssl_certificates" {
  description = "Self links of existing SSL certificates to serve; used when managed_certificate_domains is empty."
  type        = list(string)
  default     = []
}

variable "managed_certificate_domains" {
  description = "Domains for a Google-managed certificate (their DNS must point at the output ip_address)."
  type        = list(string)
  default     = []
}

variable "ssl_policy_profile" {
  description = "TLS profile of the HTTPS proxy (minimum TLS 1.2): MODERN or RESTRICTED."
  type        = string
  default     = "MODERN"

  validation {
    condition     = contains(["MODERN", "RESTRICTED"], var.ssl_policy_profile)
    error_message = "ssl_policy_profile must be MODERN or RESTRICTED."
  }
}

variable "security_policy" {
  description = "Cloud Armor security policy self link for the backend service; \"\" for none."
  type        = string
  default     = ""
}

variable "http_redirect" {
  description = "Also listen on port 80 and redirect every request to HTTPS."
  type        = bool
  default     = true
}

variable "log_sample_rate" {
  description = "Share of requests logged by the backend service (0-1)."
  type        = number
  default     = 1

  validation {
    condition     = var.log_sample_rate >= 0 && var.log_sample_rate <= 1
    error_message = "log_sample_rate must be from 0 to 1."
  }
}

variable "labels" {
  description = "Labels applied to the address and the forwarding rules (the other load balancer resources take no labels)."
  type        = map(string)
  default     = {}
}
