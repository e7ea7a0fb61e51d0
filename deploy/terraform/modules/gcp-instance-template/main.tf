# The Ollama server's instance template: GPU (guest accelerators or a GPU machine type), Spot VM
# with a termination action, Shielded VM, encrypted boot disk sized from the model (optional
# CMEK), no public IP by default, project SSH keys blocked, OS Login and the boot script as the
# startup script.

locals {
  accelerators = var.gpu_type != "" && var.gpu_count > 0 ? [{ type = var.gpu_type, count = var.gpu_count }] : []
}

resource "google_compute_instance_template" "this" {
  #checkov:skip=CKV_GCP_38: customer-supplied (raw) keys are not used; boot disks use Google-managed encryption or CMEK (kms_key_self_link)
  project      = var.project_id
  name_prefix  = "${var.name}-"
  region       = var.region
  machine_type = var.machine_type
  description  = "FlowLlama Ollama server"
  labels       = var.labels
  tags         = var.network_tags

  disk {
    boot         = true
    auto_delete  = true
    source_image = var.source_image
    disk_size_gb = var.disk_size_gb
    disk_type    = var.disk_type
    labels       = var.labels

    dynamic "disk_encryption_key" {
      for_each = var.kms_key_self_link != "" ? [var.kms_key_self_link] : []
      content {
        kms_key_self_link = disk_encryption_key.value
      }
    }
  }

  network_interface {
    subnetwork = var.subnetwork

    dynamic "access_config" {
      for_each = var.assign_public_ip ? [1] : []
      content {
        network_tier = "PREMIUM"
      }
    }
  }

  dynamic "guest_accelerator" {
    for_each = local.accelerators
    content {
      type  = guest_accelerator.value.type
      count = guest_accelerator.value.count
    }
  }

  scheduling {
    provisioning_model          = var.spot ? "SPOT" : "STANDARD"
    preemptible                 = var.spot
    automatic_restart           = !var.spot
    on_host_maintenance         = "TERMINATE" # GPU instances cannot live-migrate
    instance_termination_action = var.spot ? var.spot_termination_action : null
  }

  shielded_instance_config {
    enable_secure_boot          = var.enable_secure_boot
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  service_account {
    email  = var.service_account_email
    scopes = ["cloud-platform"] # access is bounded by the identity's IAM roles
  }

  metadata = {
    startup-script         = var.user_data
    block-project-ssh-keys = "TRUE"
    enable-oslogin         = "TRUE"
    serial-port-enable     = "FALSE"
  }

  lifecycle {
    create_before_destroy = true
  }
}
