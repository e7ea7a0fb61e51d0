provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "identities" {
  source = "../.."

  name              = "flowllama"
  project_id        = var.project_id
  model_bucket_name = var.model_bucket_name
}
