provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "firewall" {
  source = "../.."

  name       = "flowllama"
  project_id = var.project_id
  network    = var.network
}
