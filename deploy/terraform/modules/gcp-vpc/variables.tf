variable "name" {
  description = "Name of the VPC network and prefix of its subnets, routers and NATs."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,35}[a-z0-9]$", var.name))
    error_message = "name must be 2-37 lowercase letters, digits or inner hyphens, starting with a letter (subnet, router and NAT names add -<subnet name>)."
  }
}

variable "project_id" {
  description = "GCP project that owns the network."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "subnets" {
  description = "Regional subnets: name suffix, region, primary CIDR, secondary ranges (range name => CIDR) and Private Google Access."
  type = list(object({
    name                     = string
    region                   = string
    ip_cidr_range            = string
    secondary_ranges         = optional(map(string), {})
    private_ip_google_access = optional(bool, true)
  }))

  validation {
    condition     = length(var.subnets) > 0 && alltrue([for s in var.subnets : can(cidrhost(s.ip_cidr_range, 0)) && alltrue([for r in values(s.secondary_ranges) : can(cidrhost(r, 0))])])
    error_message = "subnets must hold at least one subnet, and every range must be a valid CIDR."
  }

  validation {
    condition     = length(distinct([for s in var.subnets : s.name])) == length(var.subnets) && alltrue([for s in var.subnets : can(regex("^[a-z][a-z0-9-]{0,24}$", s.name))])
    error_message = "subnet names must be unique, 1-25 lowercase letters, digits or hyphens (a region name fits)."
  }
}

variable "routing_mode" {
  description = "Dynamic routing mode of the network: REGIONAL or GLOBAL."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "GLOBAL"], var.routing_mode)
    error_message = "routing_mode must be REGIONAL or GLOBAL."
  }
}

variable "enable_nat" {
  description = "Create a Cloud Router and Cloud NAT in every subnet region, so instances without public IPs reach the internet (Ollama release, model registry)."
  type        = bool
  default     = true
}

variable "nat_log_filter" {
  description = "Which Cloud NAT translations are logged: ERRORS_ONLY, TRANSLATIONS_ONLY or ALL."
  type        = string
  default     = "ERRORS_ONLY"

  validation {
    condition     = contains(["ERRORS_ONLY", "TRANSLATIONS_ONLY", "ALL"], var.nat_log_filter)
    error_message = "nat_log_filter must be ERRORS_ONLY, TRANSLATIONS_ONLY or ALL."
  }
}

variable "flow_logs" {
  description = "Subnet VPC flow logs: aggregation interval, sampling rate (0-1) and metadata (INCLUDE_ALL_METADATA, EXCLUDE_ALL_METADATA)."
  type = object({
    aggregation_interval = optional(string, "INTERVAL_5_SEC")
    flow_sampling        = optional(number, 0.5)
    metadata             = optional(string, "INCLUDE_ALL_METADATA")
  })
  default = {}

  validation {
    condition     = var.flow_logs.flow_sampling > 0 && var.flow_logs.flow_sampling <= 1 && contains(["INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN", "INTERVAL_5_MIN", "INTERVAL_10_MIN", "INTERVAL_15_MIN"], var.flow_logs.aggregation_interval) && contains(["INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA"], var.flow_logs.metadata)
    error_message = "flow_logs: flow_sampling in (0, 1], a valid aggregation_interval and metadata INCLUDE_ALL_METADATA or EXCLUDE_ALL_METADATA."
  }
}

variable "labels" {
  description = "Labels for every labelable resource. GCP networks, subnets, routers and NATs take no labels, so this module has none to apply; it is accepted for one interface across modules."
  type        = map(string)
  default     = {}
}
