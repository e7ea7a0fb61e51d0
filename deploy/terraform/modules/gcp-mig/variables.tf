variable "name" {
  description = "Name of the managed instance group, its base instance name and its health check."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,50}[a-z0-9]$", var.name))
    error_message = "name must be 2-52 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "project_id" {
  description = "GCP project of the group."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "instance_template" {
  description = "Self link of the instance template (gcp-instance-template's self_link)."
  type        = string
}

variable "regional" {
  description = "A regional group spread over distribution_zones (true) or a zonal group in zone (false)."
  type        = bool
  default     = false
}

variable "region" {
  description = "Region of a regional group."
  type        = string
  default     = null
}

variable "zone" {
  description = "Zone of a zonal group (where the offer's GPU is)."
  type        = string
  default     = null
}

variable "distribution_zones" {
  description = "Zones a regional group may use (those with the GPU type); empty lets GCP choose."
  type        = list(string)
  default     = []
}

variable "target_size" {
  description = "Number of servers: 1 for a FlowLlama deployment, 0 while it is stopped."
  type        = number
  default     = 1

  validation {
    condition     = var.target_size >= 0 && var.target_size <= 100 && floor(var.target_size) == var.target_size
    error_message = "target_size must be a whole number from 0 to 100."
  }
}

variable "port" {
  description = "The Ollama port: the group's named port and the health check's port."
  type        = number
  default     = 11434

  validation {
    condition     = var.port >= 1 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "port must be a whole number from 1 to 65535."
  }
}

variable "named_port_name" {
  description = "Name of the named port (a load balancer's backend service refers to it)."
  type        = string
  default     = "ollama"
}

variable "health_check_path" {
  description = "HTTP path the autohealing health check requests."
  type        = string
  default     = "/api/tags"
}

variable "autohealing_initial_delay_sec" {
  description = "Seconds a new server has before autohealing judges it: install, model download and load."
  type        = number
  default     = 900

  validation {
    condition     = var.autohealing_initial_delay_sec >= 0 && var.autohealing_initial_delay_sec <= 3600
    error_message = "autohealing_initial_delay_sec must be from 0 to 3600."
  }
}

variable "replacement_method" {
  description = "How a template change replaces servers: SUBSTITUTE (a new one first, then the old goes) or RECREATE (same name, after the old one goes; no extra GPU needed)."
  type        = string
  default     = "SUBSTITUTE"

  validation {
    condition     = contains(["SUBSTITUTE", "RECREATE"], var.replacement_method)
    error_message = "replacement_method must be SUBSTITUTE or RECREATE."
  }
}

variable "wait_for_instances" {
  description = "Make Terraform wait until the group is stable (its servers created), so their addresses can be read."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels set on every instance of the group (all_instances_config). Groups and health checks take no labels."
  type        = map(string)
  default     = {}
}
