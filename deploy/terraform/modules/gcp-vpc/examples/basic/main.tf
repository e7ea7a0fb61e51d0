provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "vpc" {
  source = "../.."

  name       = "flowllama"
  project_id = var.project_id
  subnets = [
    { name = "us-central1", region = "us-central1", ip_cidr_range = "10.10.0.0/20" },
  ]
}
