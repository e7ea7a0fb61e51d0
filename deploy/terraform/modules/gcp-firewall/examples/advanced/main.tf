# A dev network: the gateway reaches Ollama from its subnet range and its tag, SSH is on from IAP
# only, and HTTPS egress is narrowed to a release mirror and Google APIs' private ranges.
provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "firewall" {
  source = "../.."

  name                  = "flowllama-dev"
  project_id            = var.project_id
  network               = var.network
  environment           = "dev"
  target_tags           = ["flowllama-ollama"]
  gateway_source_ranges = ["10.10.0.0/20"]
  gateway_source_tags   = ["flowllama-gateway"]
  ssh_enabled           = true
  ssh_source_ranges     = ["35.235.240.0/20"]
  egress_https_ranges   = ["199.36.153.8/30", "10.200.0.10/32"]
}
