variable "name" {
  description = "Prefix of the service account ids (<name>-inst, <name>-agent) and of the agent's custom role."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{3,22}[a-z0-9]$", var.name))
    error_message = "name must be 5-24 lowercase letters, digits or inner hyphens, starting with a letter (service account ids are at most 30 characters)."
  }
}

variable "project_id" {
  description = "GCP project of the identities."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "model_bucket_name" {
  description = "The model cache bucket: the instance identity may read it and add objects to it (never delete or overwrite)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.model_bucket_name))
    error_message = "model_bucket_name must be a GCS bucket name."
  }
}

variable "create_agent" {
  description = "Create the agent's identity (the FlowLlama agent's Terraform runs of the gcp-ollama stack)."
  type        = bool
  default     = true
}

variable "state_bucket_name" {
  description = "GCS bucket holding the agent's Terraform state (objects read, written, deleted, locked); \"\" when state is elsewhere."
  type        = string
  default     = ""

  validation {
    condition     = var.state_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be \"\" or a GCS bucket name."
  }
}

variable "agent_workload_identity_members" {
  description = "Principals that may act as the agent identity through Workload Identity, e.g. serviceAccount:<project>.svc.id.goog[flowllama/agent]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.agent_workload_identity_members : startswith(m, "serviceAccount:") || startswith(m, "principal:") || startswith(m, "principalSet:")])
    error_message = "agent_workload_identity_members must be serviceAccount:, principal: or principalSet: members."
  }
}

variable "labels" {
  description = "Labels for every labelable resource. Service accounts, custom roles and IAM members take no labels, so this module has none to apply; it is accepted for one interface across modules."
  type        = map(string)
  default     = {}
}
