variable "name" {
  description = "Bucket name (globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name)) && !startswith(var.name, "goog")
    error_message = "name must be 3-63 lowercase letters, digits or inner hyphens, not starting with goog."
  }
}

variable "project_id" {
  description = "GCP project that owns the bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "location" {
  description = "Bucket location: a region (e.g. US-CENTRAL1, next to the servers) or a multi-region."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{2,40}$", var.location))
    error_message = "location must be a GCS location such as US-CENTRAL1 or EU."
  }
}

variable "kms_key_name" {
  description = "Cloud KMS key (projects/.../cryptoKeys/...) for default encryption (CMEK); \"\" uses Google-managed encryption. The GCS service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = ""

  validation {
    condition     = var.kms_key_name == "" || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.kms_key_name))
    error_message = "kms_key_name must be \"\" or projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>."
  }
}

variable "nearline_after_days" {
  description = "Days after which objects move to NEARLINE (0 disables the rule)."
  type        = number
  default     = 30

  validation {
    condition     = var.nearline_after_days >= 0 && floor(var.nearline_after_days) == var.nearline_after_days
    error_message = "nearline_after_days must be a whole number >= 0."
  }
}

variable "coldline_after_days" {
  description = "Days after which objects move to COLDLINE (0 disables the rule)."
  type        = number
  default     = 90

  validation {
    condition     = var.coldline_after_days >= 0 && floor(var.coldline_after_days) == var.coldline_after_days
    error_message = "coldline_after_days must be a whole number >= 0."
  }
}

variable "noncurrent_version_days" {
  description = "Days after which a noncurrent (overwritten or deleted) object version is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number >= 1."
  }
}

variable "access_log_bucket" {
  description = "Bucket that receives this bucket's usage and storage logs; \"\" for none (Cloud Audit Logs still record access)."
  type        = string
  default     = ""
}

variable "force_destroy" {
  description = "Allow destroying the bucket while it still holds objects (tests and throw-away environments only)."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels applied to the bucket."
  type        = map(string)
  default     = {}
}
