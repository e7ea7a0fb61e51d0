provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "boot" {
  source = "../../../ollama-boot"

  name          = "fl-example"
  cloud         = "gcp"
  ollama_sha256 = var.ollama_sha256
  model         = "llama3.2:1b"
}

module "template" {
  source = "../.."

  name                  = "fl-example"
  project_id            = var.project_id
  region                = "us-central1"
  machine_type          = "g2-standard-4"
  subnetwork            = var.subnetwork
  service_account_email = var.service_account_email
  user_data             = module.boot.user_data
}
