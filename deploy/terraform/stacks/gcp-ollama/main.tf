# One deployment's Ollama server on GCP: the boot script, an instance template on the offer's
# machine type (GPU, Spot or on-demand, no public IP) in the foundation's subnet, running as the
# foundation's instance identity and tagged flowllama-ollama (the tag the foundation's firewall
# opens the Ollama port for, and only to the gateway), in a zonal managed instance group of one
# that autoheals on /api/tags.

locals {
  zone = coalesce(var.zone, "${var.region}-a")
  labels = merge(
    var.labels,
    { project = "flowllama", environment = var.environment, flowllama-deployment = var.deployment_id },
    var.user_id != "" ? { flowllama-user = var.user_id } : {},
  )
  # a2/a3/a4/g2/g4 machine types come with their GPUs; others get the accelerator attached.
  builtin_gpu  = can(regex("^(a2|a3|a4|g2|g4)-", var.instance_type))
  gpu_attached = var.gpu != "" && var.gpu_count > 0 && !local.builtin_gpu
  # A deployment's other servers (fl-<id>-s1: replicas, a blue/green replacement) would
  # truncate to the first server's short name, so theirs end in a hash of the whole name.
  slotted    = can(regex("-s[0-9]+$", var.deployment_name))
  short_name = local.slotted ? "${substr(var.deployment_name, 0, 28)}-${substr(sha1(var.deployment_name), 0, 7)}" : trimsuffix(substr(var.deployment_name, 0, 36), "-")
  group_name = trimsuffix(substr(var.deployment_name, 0, 52), "-")
}

module "boot" {
  source = "../../modules/ollama-boot"

  name            = var.deployment_name
  cloud           = "gcp"
  ollama_version  = var.ollama_version
  ollama_sha256   = var.ollama_sha256
  model           = var.model
  context_length  = var.context_size
  num_parallel    = var.parallel
  gpu_expected    = local.gpu_attached || local.builtin_gpu
  model_cache_uri = "gs://${var.foundation.model_bucket_name}/cache"
  environment     = var.environment
  deployment_id   = var.deployment_id
  display_name    = var.display_name
}

module "template" {
  source = "../../modules/gcp-instance-template"

  name                  = local.short_name
  project_id            = var.project
  region                = var.region
  machine_type          = var.instance_type
  source_image          = var.image_id != "" ? var.image_id : "projects/ubuntu-os-accelerator-images/global/images/family/ubuntu-accelerator-2204-amd64-with-nvidia-550"
  disk_size_gb          = var.root_volume_size_gb
  gpu_type              = local.gpu_attached ? var.gpu : ""
  gpu_count             = local.gpu_attached ? var.gpu_count : 0
  spot                  = var.spot
  subnetwork            = var.foundation.subnetwork
  assign_public_ip      = false
  network_tags          = ["flowllama-ollama"]
  service_account_email = var.foundation.service_account_email
  user_data             = module.boot.user_data
  labels                = local.labels
}

module "mig" {
  source = "../../modules/gcp-mig"

  name               = local.group_name
  project_id         = var.project
  instance_template  = module.template.self_link
  regional           = false
  zone               = local.zone
  target_size        = var.running ? 1 : 0
  replacement_method = "SUBSTITUTE"
  wait_for_instances = true
  labels             = local.labels
}

# The group's server, read back after the group is stable (wait_for_instances).
data "google_compute_instance_group" "server" {
  count = var.running ? 1 : 0

  self_link = module.mig.instance_group
}

data "google_compute_instance" "server" {
  count = var.running ? 1 : 0

  self_link = one(data.google_compute_instance_group.server[0].instances)
}
