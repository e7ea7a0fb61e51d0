# Two regions with secondary ranges (e.g. for GKE pods and services), global routing, full
# flow-log sampling and every NAT translation logged.
provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "vpc" {
  source = "../.."

  name         = "flowllama-prod"
  project_id   = var.project_id
  routing_mode = "GLOBAL"
  subnets = [
    {
      name             = "us-central1"
      region           = "us-central1"
      ip_cidr_range    = "10.10.0.0/20"
      secondary_ranges = { pods = "10.20.0.0/16", services = "10.30.0.0/20" }
    },
    {
      name                     = "europe-west4"
      region                   = "europe-west4"
      ip_cidr_range            = "10.11.0.0/20"
      private_ip_google_access = true
    },
  ]
  flow_logs      = { aggregation_interval = "INTERVAL_30_SEC", flow_sampling = 1.0 }
  nat_log_filter = "ALL"
  labels         = { project = "flowllama", environment = "prod" }
}
