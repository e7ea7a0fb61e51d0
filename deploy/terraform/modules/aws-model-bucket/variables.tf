variable "name" {
  type        = string
  description = "Name prefix for every resource (lowercase letters, digits and hyphens, 2-32 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "The name must be 2-32 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "bucket_name" {
  type        = string
  description = "Bucket name; null derives a globally unique one: <name>-<account id>-<region>."
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "The bucket_name must be 3-63 lowercase letters, digits, dots or hyphens."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for encryption at rest (SSE-KMS, with an S3 bucket key); null uses SSE-S3 (AES-256). Objects are encrypted either way."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "lifecycle_transitions" {
  type = list(object({
    days          = number
    storage_class = string
  }))
  description = "Transitions of current object versions to cheaper storage classes. Archival classes (GLACIER, DEEP_ARCHIVE) make cached models unreadable until restored; GLACIER_IR needs provider v3.66+."
  default = [
    { days = 30, storage_class = "STANDARD_IA" },
  ]

  validation {
    condition     = alltrue([for t in var.lifecycle_transitions : contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], t.storage_class) && t.days >= 0])
    error_message = "Each transition needs days >= 0 and a storage class among STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days before replaced (noncurrent) object versions are deleted."
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "The noncurrent_version_expiration_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  type        = number
  description = "Days before unfinished multipart uploads (interrupted cache fills) are removed."
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "The abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "access_log_bucket" {
  type        = string
  description = "Bucket receiving S3 server access logs; null for none."
  default     = null
}

variable "access_log_prefix" {
  type        = string
  description = "Key prefix of the access logs in access_log_bucket."
  default     = "s3-access/"
}

variable "force_destroy" {
  type        = bool
  description = "Let Terraform delete the bucket with its objects (all versions) in it."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
