provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "lb" {
  source = "../.."

  name                        = "flowllama"
  project_id                  = var.project_id
  backend_groups              = [var.instance_group]
  managed_certificate_domains = ["ollama.example.com"]
}
