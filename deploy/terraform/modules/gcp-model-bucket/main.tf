# The model cache: versioned, uniform bucket-level access, public access prevention enforced,
# optional CMEK, and lifecycle rules that move cold models to cheaper classes.

resource "google_storage_bucket" "this" {
  #checkov:skip=CKV_GCP_62: access logging is optional (access_log_bucket); Cloud Audit Logs record access regardless
  project                     = var.project_id
  name                        = var.name
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  versioning {
    enabled = true
  }

  dynamic "encryption" {
    for_each = var.kms_key_name != "" ? [var.kms_key_name] : []
    content {
      default_kms_key_name = encryption.value
    }
  }

  dynamic "logging" {
    for_each = var.access_log_bucket != "" ? [var.access_log_bucket] : []
    content {
      log_bucket = logging.value
    }
  }

  dynamic "lifecycle_rule" {
    for_each = var.nearline_after_days > 0 ? [var.nearline_after_days] : []
    content {
      condition {
        age                   = lifecycle_rule.value
        matches_storage_class = ["STANDARD"]
      }
      action {
        type          = "SetStorageClass"
        storage_class = "NEARLINE"
      }
    }
  }

  dynamic "lifecycle_rule" {
    for_each = var.coldline_after_days > 0 ? [var.coldline_after_days] : []
    content {
      condition {
        age                   = lifecycle_rule.value
        matches_storage_class = ["STANDARD", "NEARLINE"]
      }
      action {
        type          = "SetStorageClass"
        storage_class = "COLDLINE"
      }
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}
