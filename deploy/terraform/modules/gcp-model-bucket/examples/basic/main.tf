provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "models" {
  source = "../.."

  name       = var.bucket_name
  project_id = var.project_id
  location   = "US-CENTRAL1"
  labels     = { project = "flowllama", environment = "dev" }
}
