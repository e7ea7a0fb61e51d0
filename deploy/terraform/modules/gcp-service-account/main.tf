# Two identities with least privilege:
#   instance: what the boot script and the agents on an Ollama server need (model bucket read +
#             add, log and metric writes);
#   agent:    what the FlowLlama agent's Terraform runs of the gcp-ollama stack need (a custom
#             role with exactly those compute permissions, act-as on the instance identity only,
#             its state bucket only).

locals {
  instance_project_roles = ["roles/logging.logWriter", "roles/monitoring.metricWriter"]
  instance_bucket_roles  = ["roles/storage.objectViewer", "roles/storage.objectCreator"]

  # The gcp-ollama stack: instance template, zonal/regional MIG, health check, and the data
  # sources that read the server's address back.
  agent_permissions = sort([
    "compute.acceleratorTypes.get",
    "compute.disks.create",
    "compute.disks.get",
    "compute.disks.setLabels",
    "compute.globalOperations.get",
    "compute.healthChecks.create",
    "compute.healthChecks.delete",
    "compute.healthChecks.get",
    "compute.healthChecks.update",
    "compute.healthChecks.use",
    "compute.healthChecks.useReadOnly",
    "compute.images.get",
    "compute.images.getFromFamily",
    "compute.images.useReadOnly",
    "compute.instanceGroupManagers.create",
    "compute.instanceGroupManagers.delete",
    "compute.instanceGroupManagers.get",
    "compute.instanceGroupManagers.update",
    "compute.instanceGroupManagers.use",
    "compute.instanceGroups.create",
    "compute.instanceGroups.delete",
    "compute.instanceGroups.get",
    "compute.instanceGroups.list",
    "compute.instanceGroups.update",
    "compute.instanceGroups.use",
    "compute.instanceTemplates.create",
    "compute.instanceTemplates.delete",
    "compute.instanceTemplates.get",
    "compute.instanceTemplates.useReadOnly",
    "compute.instances.create",
    "compute.instances.delete",
    "compute.instances.get",
    "compute.instances.list",
    "compute.instances.setLabels",
    "compute.instances.setMetadata",
    "compute.instances.setServiceAccount",
    "compute.instances.setTags",
    "compute.machineTypes.get",
    "compute.regionOperations.get",
    "compute.subnetworks.get",
    "compute.subnetworks.use",
    "compute.zoneOperations.get",
    "compute.zones.get",
  ])
  agent_role_id = replace("${var.name}_agent", "-", "_")
}

resource "google_service_account" "instance" {
  project      = var.project_id
  account_id   = "${var.name}-inst"
  display_name = "FlowLlama Ollama servers (${var.name})"
  description  = "Ollama servers: read and fill the model cache, write logs and metrics."
}

resource "google_project_iam_member" "instance" {
  for_each = toset(local.instance_project_roles)

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.instance.email}"
}

resource "google_storage_bucket_iam_member" "instance" {
  for_each = toset(local.instance_bucket_roles)

  bucket = var.model_bucket_name
  role   = each.value
  member = "serviceAccount:${google_service_account.instance.email}"
}

resource "google_service_account" "agent" {
  count = var.create_agent ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-agent"
  display_name = "FlowLlama agent (${var.name})"
  description  = "The FlowLlama agent's Terraform runs of the gcp-ollama stack."
}

resource "google_project_iam_custom_role" "agent" {
  count = var.create_agent ? 1 : 0

  project     = var.project_id
  role_id     = local.agent_role_id
  title       = "FlowLlama agent (${var.name})"
  description = "Exactly what the gcp-ollama stack's Terraform runs need."
  permissions = local.agent_permissions
}

resource "google_project_iam_member" "agent" {
  count = var.create_agent ? 1 : 0

  project = var.project_id
  role    = google_project_iam_custom_role.agent[0].name
  member  = "serviceAccount:${google_service_account.agent[0].email}"
}

# Act-as on the instance identity only (not every service account of the project).
resource "google_service_account_iam_member" "agent_acts_as_instance" {
  count = var.create_agent ? 1 : 0

  service_account_id = google_service_account.instance.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.agent[0].email}"
}

resource "google_storage_bucket_iam_member" "agent_state" {
  count = var.create_agent && var.state_bucket_name != "" ? 1 : 0

  bucket = var.state_bucket_name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.agent[0].email}"
}

resource "google_service_account_iam_member" "agent_workload_identity" {
  for_each = var.create_agent ? toset(var.agent_workload_identity_members) : toset([])

  service_account_id = google_service_account.agent[0].name
  role               = "roles/iam.workloadIdentityUser"
  member             = each.value
}
