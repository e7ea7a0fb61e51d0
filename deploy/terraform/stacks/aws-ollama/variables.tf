# Inputs FlowLlama fills for each deployment (flowllama.providers.terraform.cloud_stacks.
# aws_ollama_stack lists the same names and types). User text (display_name, model) arrives only
# as values in terraform.tfvars.json, never inside configuration.

variable "deployment_name" {
  type        = string
  description = "Name of every resource of the deployment: fl-<deployment id>."

  validation {
    condition     = can(regex("^fl-[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$", var.deployment_name))
    error_message = "deployment_name must be fl-<deployment id> (lowercase letters, digits, inner hyphens)."
  }
}

variable "deployment_id" {
  type        = string
  description = "The deployment's id (also in the flowllama:deployment tag)."
}

variable "display_name" {
  type        = string
  description = "The user's name for the deployment (arbitrary text, passed to the boot script as data)."
  default     = ""
}

variable "model" {
  type        = string
  description = "Ollama model tag the server serves, e.g. llama3.1:8b."
}

variable "context_size" {
  type        = number
  description = "Context size in tokens (OLLAMA_CONTEXT_LENGTH)."
  default     = 4096
}

variable "parallel" {
  type        = number
  description = "Requests served at once (OLLAMA_NUM_PARALLEL)."
  default     = 1
}

variable "region" {
  type        = string
  description = "AWS region of the offer (the provider's region, set by the rendered root)."
}

variable "zone" {
  type        = string
  description = "Availability zone of the offer; null lets the group use every private subnet."
  default     = null
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of the offer, e.g. g6.xlarge."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like g6.xlarge."
  }
}

variable "spot" {
  type        = bool
  description = "Run on spot capacity (true) or on-demand (false), as the offer says."
  default     = false
}

variable "gpu_count" {
  type        = number
  description = "GPUs of the instance type; 0 tells the boot script not to expect a driver."
  default     = 1
}

variable "running" {
  type        = bool
  description = "Power state: false scales the group to zero (stop), true back to one (start)."
  default     = true
}

variable "environment" {
  type        = string
  description = "Environment name of the foundation this server joins; tagged on every resource."
  default     = "prod"
}

variable "tags" {
  type        = map(string)
  description = "The deployment's tags (flowllama:deployment, flowllama:user, Name); project and environment are added."
  default     = {}
}

variable "image_id" {
  type        = string
  description = "AMI of the server; null reads AWS's GPU Deep Learning Base AMI (Ubuntu 22.04) from its public SSM parameter."
  default     = null
}

variable "root_volume_size_gb" {
  type        = number
  description = "Encrypted root disk size in GiB: FlowLlama sets it from the model's weights (OS image base + two copies of the weights + 10%, at least 100; catalog/disk.py, the size the estimate prices)."
  default     = 100
}

variable "ollama_version" {
  type        = string
  description = "Pinned Ollama release the boot script installs."
  default     = "0.12.6"
}

variable "ollama_sha256" {
  type        = string
  description = "SHA-256 of that release's archive (the operator's FLOWLLAMA_CLOUDS__OLLAMA_SHA256)."
}

variable "foundation" {
  type = object({
    vpc_id                    = string
    private_subnet_ids        = list(string)
    gateway_security_group_id = string
    instance_profile_name     = string
    model_bucket_name         = string
    instance_log_group_name   = string
  })
  description = "Outputs of the region's aws-foundation stack, passed by FlowLlama as one JSON value."
}
