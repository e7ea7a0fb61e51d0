# A Spot n1 server with two T4s, a CMEK boot disk sized for a 70B model, and a DELETE
# termination action.
provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "boot" {
  source = "../../../ollama-boot"

  name            = "fl-big"
  cloud           = "gcp"
  ollama_sha256   = var.ollama_sha256
  model           = "llama3.1:70b"
  context_length  = 8192
  model_cache_uri = "gs://flowllama-models-example/cache"
}

module "template" {
  source = "../.."

  name                    = "fl-big"
  project_id              = var.project_id
  region                  = "us-central1"
  machine_type            = "n1-standard-16"
  gpu_type                = "nvidia-tesla-t4"
  gpu_count               = 2
  spot                    = true
  spot_termination_action = "DELETE"
  disk_size_gb            = 200
  disk_type               = "pd-ssd"
  kms_key_self_link       = var.kms_key_self_link
  subnetwork              = var.subnetwork
  network_tags            = ["flowllama-ollama"]
  service_account_email   = var.service_account_email
  user_data               = module.boot.user_data
  labels                  = { project = "flowllama", environment = "prod", flowllama-deployment = "big" }
}
