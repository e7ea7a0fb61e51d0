# The GCP base of one region: network (custom-mode VPC, subnet with flow logs, Cloud Router +
# NAT), firewall (Ollama only from the gateway), identities (instance and agent) and the model
# cache bucket. Applied once per region and environment by `flowllama cloud init gcp`.

locals {
  labels = merge(var.labels, { project = "flowllama", environment = var.environment })
  # A VPC and service accounts are project-wide: one foundation per region needs its own names.
  suffix    = substr(sha1("${var.project}/${var.region}"), 0, 6)
  prefix    = "${trimsuffix(substr(var.name, 0, 30), "-")}-${local.suffix}"
  id_prefix = "${trimsuffix(substr(var.name, 0, 16), "-")}-${local.suffix}"
  bucket    = var.model_bucket_name != "" ? var.model_bucket_name : "${var.name}-models-${substr(sha1("${var.project}/${var.region}/models"), 0, 8)}"
  # The network tag the gcp-ollama stack puts on every server (one network per foundation, so
  # the fixed tag opens nothing elsewhere).
  server_tag           = "flowllama-ollama"
  firewall_environment = contains(["dev", "staging"], var.environment) ? var.environment : "prod"
}

module "vpc" {
  source = "../../modules/gcp-vpc"

  name       = local.prefix
  project_id = var.project
  subnets = [{
    name             = var.region
    region           = var.region
    ip_cidr_range    = var.subnet_cidr
    secondary_ranges = var.secondary_ranges
  }]
  labels = local.labels
}

module "model_bucket" {
  source = "../../modules/gcp-model-bucket"

  name         = local.bucket
  project_id   = var.project
  location     = upper(var.region)
  kms_key_name = var.kms_key_name
  labels       = local.labels
}

module "identities" {
  source = "../../modules/gcp-service-account"

  name                            = local.id_prefix
  project_id                      = var.project
  model_bucket_name               = module.model_bucket.name
  create_agent                    = true
  state_bucket_name               = var.state_bucket_name
  agent_workload_identity_members = var.agent_workload_identity_members
  labels                          = local.labels
}

module "firewall" {
  source = "../../modules/gcp-firewall"

  name                  = local.prefix
  project_id            = var.project
  network               = module.vpc.network_self_link
  environment           = local.firewall_environment
  target_tags           = [local.server_tag]
  gateway_source_tags   = [var.gateway_tag]
  gateway_source_ranges = var.gateway_source_ranges
  ssh_enabled           = var.ssh_enabled
  ssh_source_ranges     = var.ssh_source_ranges
  egress_https_ranges   = var.egress_https_ranges
  labels                = local.labels
}

# The servers' Ollama and boot logs (the Ops Agent writes them under log_name) also go to a log
# bucket of their own with the retention set here; the project's _Default bucket keeps its own
# (30 days unless changed), which this stack does not touch.
resource "google_logging_project_bucket_config" "instances" {
  project        = var.project
  location       = "global"
  bucket_id      = "${local.prefix}-ollama"
  retention_days = var.log_retention_days
  description    = "FlowLlama Ollama servers' logs (${var.environment}, ${var.region})."
}

resource "google_logging_project_sink" "instances" {
  project     = var.project
  name        = "${local.prefix}-ollama"
  destination = "logging.googleapis.com/projects/${var.project}/locations/global/buckets/${google_logging_project_bucket_config.instances.bucket_id}"
  # Ollama's log and the boot log (the Ops Agent names each log after its receiver).
  filter = "logName=(\"projects/${var.project}/logs/${var.log_name}\" OR \"projects/${var.project}/logs/${var.log_name}-boot\") AND resource.labels.zone:\"${var.region}-\""
}
