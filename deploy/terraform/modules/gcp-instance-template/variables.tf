variable "name" {
  description = "Name prefix of the instance template (a suffix is added so a changed template can replace the old one)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,35}[a-z0-9]$", var.name))
    error_message = "name must be 2-37 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "project_id" {
  description = "GCP project of the template."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "region" {
  description = "Region of the subnetwork (and of the template's regional resources)."
  type        = string
}

variable "machine_type" {
  description = "Machine type, e.g. g2-standard-8 (an L4 built in) or n1-standard-8 with guest accelerators."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*-[a-z0-9-]+$", var.machine_type))
    error_message = "machine_type must look like g2-standard-8."
  }
}

variable "source_image" {
  description = "Boot image or image family (projects/<p>/global/images/family/<f>) carrying the NVIDIA driver for GPU machines."
  type        = string
  default     = "projects/ubuntu-os-accelerator-images/global/images/family/ubuntu-accelerator-2204-amd64-with-nvidia-550"
}

variable "disk_size_gb" {
  description = "Boot disk size in GB: the image plus the model's weights (size it from the model) plus headroom."
  type        = number
  default     = 100

  validation {
    condition     = var.disk_size_gb >= 20 && var.disk_size_gb <= 65536 && floor(var.disk_size_gb) == var.disk_size_gb
    error_message = "disk_size_gb must be a whole number from 20 to 65536."
  }
}

variable "disk_type" {
  description = "Boot disk type: pd-balanced, pd-ssd, pd-standard or hyperdisk-balanced."
  type        = string
  default     = "pd-balanced"

  validation {
    condition     = contains(["pd-balanced", "pd-ssd", "pd-standard", "hyperdisk-balanced"], var.disk_type)
    error_message = "disk_type must be pd-balanced, pd-ssd, pd-standard or hyperdisk-balanced."
  }
}

variable "kms_key_self_link" {
  description = "Cloud KMS key for the boot disk (CMEK); \"\" uses Google-managed encryption (disks are always encrypted at rest). The Compute Engine service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = ""

  validation {
    condition     = var.kms_key_self_link == "" || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.kms_key_self_link))
    error_message = "kms_key_self_link must be \"\" or projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>."
  }
}

variable "gpu_type" {
  description = "Guest accelerator type (e.g. nvidia-l4, nvidia-tesla-t4); \"\" for none or for machine types with GPUs built in (a2, a3, g2)."
  type        = string
  default     = ""

  validation {
    condition     = var.gpu_type == "" || can(regex("^nvidia-[a-z0-9-]+$", var.gpu_type))
    error_message = "gpu_type must be \"\" or an accelerator type such as nvidia-l4."
  }
}

variable "gpu_count" {
  description = "Number of guest accelerators of gpu_type (ignored when gpu_type is \"\")."
  type        = number
  default     = 1

  validation {
    condition     = contains([0, 1, 2, 4, 8, 16], var.gpu_count)
    error_message = "gpu_count must be 0, 1, 2, 4, 8 or 16."
  }
}

variable "spot" {
  description = "Spot VM (provisioning_model SPOT): much cheaper, may be preempted; the MIG recreates it."
  type        = bool
  default     = false
}

variable "spot_termination_action" {
  description = "What a preempted Spot VM does: STOP (keeps the disk) or DELETE."
  type        = string
  default     = "STOP"

  validation {
    condition     = contains(["STOP", "DELETE"], var.spot_termination_action)
    error_message = "spot_termination_action must be STOP or DELETE."
  }
}

variable "subnetwork" {
  description = "Self link of the subnetwork the servers' NIC joins."
  type        = string
}

variable "assign_public_ip" {
  description = "Give the server an ephemeral public IP. Off by default: servers reach the internet through Cloud NAT."
  type        = bool
  default     = false
}

variable "network_tags" {
  description = "Network tags (the firewall module opens the Ollama port to instances with its target tags)."
  type        = list(string)
  default     = ["flowllama-ollama"]
}

variable "service_account_email" {
  description = "The instance identity (gcp-service-account's instance_service_account_email)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]+@[a-z0-9.-]+\\.iam\\.gserviceaccount\\.com$", var.service_account_email))
    error_message = "service_account_email must be a user-managed service account email (not the Compute default)."
  }
}

variable "user_data" {
  description = "The boot script (ollama-boot's user_data), set as the startup-script metadata."
  type        = string

  validation {
    condition     = length(var.user_data) > 0 && length(var.user_data) <= 262144
    error_message = "user_data must be 1-262144 characters (the metadata value limit)."
  }
}

variable "enable_secure_boot" {
  description = "Shielded VM Secure Boot (the image's NVIDIA driver must be signed, as on Ubuntu accelerator images)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels applied to the template, its instances and their boot disks."
  type        = map(string)
  default     = {}
}
