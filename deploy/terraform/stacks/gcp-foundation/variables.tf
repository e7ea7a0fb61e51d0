# Inputs of the GCP foundation (flowllama.providers.terraform.cloud_stacks.gcp_foundation_stack
# passes name, region, environment, project and labels; the rest are operator choices with
# defaults). The provider (project, region) is configured by the rendered root, not here.

variable "name" {
  description = "Name prefix of this foundation's resources (e.g. flowllama-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "project" {
  description = "GCP project of the foundation."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a GCP project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "region" {
  description = "GCP region of the foundation's subnet, NAT and model bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like us-central1."
  }
}

variable "environment" {
  description = "Environment name (prod, staging, dev...): labelled on every resource; picks the firewall rule set (unknown names get prod's)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be 1-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels applied to every labelable resource (project and environment are added)."
  type        = map(string)
  default     = {}
}

variable "subnet_cidr" {
  description = "Primary range of the foundation's subnet (the Ollama servers' addresses)."
  type        = string
  default     = "10.64.0.0/20"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be a CIDR."
  }
}

variable "secondary_ranges" {
  description = "Secondary ranges of the subnet (range name => CIDR), e.g. for a GKE cluster running the platform."
  type        = map(string)
  default     = {}
}

variable "gateway_tag" {
  description = "Network tag of the gateway's instances in this network; they may reach the Ollama port."
  type        = string
  default     = "flowllama-gateway"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.gateway_tag))
    error_message = "gateway_tag must be a network tag."
  }
}

variable "gateway_source_ranges" {
  description = "CIDR ranges the gateway connects from when it runs outside this network (e.g. a peered range or a GKE pod range)."
  type        = list(string)
  default     = []
}

variable "ssh_enabled" {
  description = "Open SSH to the servers from ssh_source_ranges (refused for prod)."
  type        = bool
  default     = false
}

variable "ssh_source_ranges" {
  description = "SSH allow-list (e.g. IAP's 35.235.240.0/20) when ssh_enabled."
  type        = list(string)
  default     = []
}

variable "egress_https_ranges" {
  description = "Where servers may open HTTPS (Ollama release, model registry, Google APIs)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "model_bucket_name" {
  description = "Name of the model cache bucket; \"\" derives a unique one from name, project and region."
  type        = string
  default     = ""
}

variable "kms_key_name" {
  description = "Cloud KMS key for the model bucket (CMEK); \"\" for Google-managed encryption."
  type        = string
  default     = ""
}

variable "state_bucket_name" {
  description = "GCS bucket of the agent's Terraform state, which the agent identity may use; \"\" for none."
  type        = string
  default     = ""
}

variable "agent_workload_identity_members" {
  description = "Principals that may act as the agent identity through Workload Identity."
  type        = list(string)
  default     = []
}

variable "log_name" {
  type        = string
  description = "Cloud Logging log name the servers write Ollama's log under (the ollama-boot module's log_name)."
  default     = "flowllama-ollama"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]{0,99}$", var.log_name))
    error_message = "The log_name must be 1-100 lowercase letters, digits, '_' or '-', starting with a letter."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days the servers' log bucket keeps entries (1 to 3650)."
  default     = 30

  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 3650
    error_message = "The log_retention_days must be between 1 and 3650."
  }
}
