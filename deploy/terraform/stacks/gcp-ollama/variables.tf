# Inputs FlowLlama fills for each deployment (flowllama.providers.terraform.cloud_stacks.
# gcp_ollama_stack lists the same names and types; the AWS stack uses the same names). User text
# (display_name, model) arrives only as values in terraform.tfvars.json, never inside
# configuration, and reaches the server only inside the boot script's base64 settings.

variable "deployment_name" {
  description = "Name of every resource of the deployment: fl-<deployment id>."
  type        = string

  validation {
    condition     = can(regex("^fl-[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$", var.deployment_name))
    error_message = "deployment_name must be fl-<deployment id> (lowercase letters, digits, inner hyphens)."
  }
}

variable "deployment_id" {
  description = "The deployment's id (the flowllama-deployment label)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$", var.deployment_id))
    error_message = "deployment_id must be 1-60 lowercase letters, digits or inner hyphens."
  }
}

variable "user_id" {
  description = "The owner's id (the flowllama-user label); \"\" when the labels already carry it."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?)?$", var.user_id))
    error_message = "user_id must be empty or 1-60 lowercase letters, digits or inner hyphens."
  }
}

variable "display_name" {
  description = "The user's name for the deployment (arbitrary text, passed to the boot script as data)."
  type        = string
  default     = ""
}

variable "model" {
  description = "Ollama model tag the server serves, e.g. llama3.1:8b."
  type        = string
}

variable "context_size" {
  description = "Context size in tokens (OLLAMA_CONTEXT_LENGTH)."
  type        = number
  default     = 4096
}

variable "parallel" {
  description = "Requests served at once (OLLAMA_NUM_PARALLEL)."
  type        = number
  default     = 1
}

variable "project" {
  description = "GCP project of the deployment (the provider's project, set by the rendered root)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a GCP project id."
  }
}

variable "region" {
  description = "GCP region of the offer (the provider's region, set by the rendered root)."
  type        = string
}

variable "zone" {
  description = "Zone of the offer (where its GPU is); null picks <region>-a."
  type        = string
  default     = null
}

variable "instance_type" {
  description = "Machine type of the offer, e.g. g2-standard-8."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*-[a-z0-9-]+$", var.instance_type))
    error_message = "instance_type must look like g2-standard-8."
  }
}

variable "spot" {
  description = "Spot VM (as the optimizer chose) or on-demand."
  type        = bool
  default     = false
}

variable "gpu" {
  description = "Guest accelerator type to attach (e.g. nvidia-tesla-t4); \"\" for none or for machine types with GPUs built in (a2, a3, g2)."
  type        = string
  default     = ""
}

variable "gpu_count" {
  description = "Number of GPUs of the offer (attached as gpu when gpu is set)."
  type        = number
  default     = 0
}

variable "labels" {
  description = "Labels of the deployment (flowllama-deployment, flowllama-user...); project and environment are added."
  type        = map(string)
  default     = {}
}

variable "running" {
  description = "Power state: false scales the group to 0 (the template and group stay)."
  type        = bool
  default     = true
}

variable "environment" {
  description = "Environment name (prod, staging...), labelled on every resource."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be 1-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "image_id" {
  description = "Boot image or family carrying the NVIDIA driver; \"\" uses the instance template module's default (Ubuntu 22.04 accelerator image)."
  type        = string
  default     = ""
}

variable "root_volume_size_gb" {
  description = "Boot disk size in GB: FlowLlama sets it from the model's weights (OS image base + two copies of the weights + 10%, at least 100; catalog/disk.py, the size the estimate prices)."
  type        = number
  default     = 100
}

variable "ollama_version" {
  description = "Pinned Ollama release the boot script installs."
  type        = string
  default     = "0.12.6"
}

variable "ollama_sha256" {
  description = "SHA-256 of that release's archive (the boot script refuses any other)."
  type        = string
}

variable "foundation" {
  description = "Outputs of the region's gcp-foundation stack."
  type = object({
    network               = string
    subnetwork            = string
    gateway_tag           = string
    service_account_email = string
    model_bucket_name     = string
  })
}
