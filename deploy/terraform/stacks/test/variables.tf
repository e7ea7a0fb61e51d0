# Inputs of the test stack. FlowLlama writes them to terraform.tfvars.json; user text (display
# name, model) arrives here only as variable values, never inside configuration.

variable "deployment_name" {
  description = "Resource name derived from the deployment id (fl-<id>)."
  type        = string
}

variable "display_name" {
  description = "The user's name for the deployment (arbitrary text)."
  type        = string
  default     = ""
}

variable "model" {
  description = "Model the server would run."
  type        = string
  default     = ""
}

variable "context_size" {
  type    = number
  default = 2048
}

variable "region" {
  type    = string
  default = "local"
}

variable "instance_type" {
  type    = string
  default = "test.small"
}

variable "spot" {
  type    = bool
  default = false
}

variable "tags" {
  description = "flowllama:deployment / flowllama:user / Name tags."
  type        = map(string)
  default     = {}
}

variable "running" {
  description = "Power state; false simulates a stopped server."
  type        = bool
  default     = true
}

variable "fail_after_first" {
  description = "Make the apply fail after the server exists (tests clean-up of a half apply)."
  type        = bool
  default     = false
}

variable "failure_message" {
  description = "Error text of that failure (tests error mapping, e.g. a capacity error)."
  type        = string
  default     = "fail_after_first is set: the second resource refuses to be created"
}

variable "apply_delay_seconds" {
  description = "Seconds the apply spends after creating the server (tests crashes mid-apply)."
  type        = number
  default     = 0

  validation {
    condition     = var.apply_delay_seconds >= 0 && var.apply_delay_seconds <= 60 && floor(var.apply_delay_seconds) == var.apply_delay_seconds
    error_message = "apply_delay_seconds must be a whole number from 0 to 60."
  }
}

variable "port" {
  type    = number
  default = 11434
}

variable "public_ip" {
  type    = string
  default = "127.0.0.1"
}
