# CMEK, access logs to a log bucket, faster moves to cheaper classes, short noncurrent retention.
provider "google" {
  project = var.project_id
  region  = "europe-west4"
}

module "models" {
  source = "../.."

  name                    = var.bucket_name
  project_id              = var.project_id
  location                = "EUROPE-WEST4"
  kms_key_name            = var.kms_key_name
  access_log_bucket       = "flowllama-access-logs-example"
  nearline_after_days     = 14
  coldline_after_days     = 60
  noncurrent_version_days = 7
  labels                  = { project = "flowllama", environment = "prod" }
}
