# The agent runs on GKE with Workload Identity and keeps its Terraform state in GCS.
provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "identities" {
  source = "../.."

  name                            = "flowllama-prod"
  project_id                      = var.project_id
  model_bucket_name               = var.model_bucket_name
  create_agent                    = true
  state_bucket_name               = "flowllama-prod-tfstate"
  agent_workload_identity_members = ["serviceAccount:${var.project_id}.svc.id.goog[flowllama/agent]"]
}
