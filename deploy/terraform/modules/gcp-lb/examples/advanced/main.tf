# Two zonal groups behind one HTTPS address with a given certificate, Cloud Armor, RESTRICTED
# TLS, no plain-HTTP listener and sampled request logs.
provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "lb" {
  source = "../.."

  name               = "flowllama-prod"
  project_id         = var.project_id
  backend_groups     = var.instance_groups
  ssl_certificates   = [var.certificate]
  ssl_policy_profile = "RESTRICTED"
  security_policy    = var.security_policy
  http_redirect      = false
  timeout_sec        = 1800
  log_sample_rate    = 0.25
  labels             = { project = "flowllama", environment = "prod" }
}
