# A managed instance group (zonal or regional) of Ollama servers: target size, autohealing on
# the Ollama health check, proactive replacement when the template changes, named port.

locals {
  zonal    = var.regional ? 0 : 1
  regional = var.regional ? 1 : 0
  # RECREATE keeps names and needs no spare capacity: no surge. SUBSTITUTE surges one server
  # per zone (a regional group needs 0 or at least its zone count).
  zone_count  = max(length(var.distribution_zones), 3)
  max_surge   = var.replacement_method == "RECREATE" ? 0 : (var.regional ? local.zone_count : 1)
  unavailable = var.replacement_method == "RECREATE" ? (var.regional ? local.zone_count : 1) : 0
}

resource "google_compute_health_check" "this" {
  project             = var.project_id
  name                = "${var.name}-autoheal"
  description         = "Ollama answers ${var.health_check_path}"
  check_interval_sec  = 15
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 4

  http_health_check {
    port         = var.port
    request_path = var.health_check_path
  }

  log_config {
    enable = true
  }
}

resource "google_compute_instance_group_manager" "this" {
  count = local.zonal

  project            = var.project_id
  name               = var.name
  base_instance_name = var.name
  zone               = var.zone
  target_size        = var.target_size
  wait_for_instances = var.wait_for_instances

  version {
    name              = "primary"
    instance_template = var.instance_template
  }

  named_port {
    name = var.named_port_name
    port = var.port
  }

  auto_healing_policies {
    health_check      = google_compute_health_check.this.id
    initial_delay_sec = var.autohealing_initial_delay_sec
  }

  update_policy {
    type                  = "PROACTIVE"
    minimal_action        = "REPLACE"
    replacement_method    = var.replacement_method
    max_surge_fixed       = local.max_surge
    max_unavailable_fixed = local.unavailable
  }

  all_instances_config {
    labels = var.labels
  }

  lifecycle {
    precondition {
      condition     = var.zone != null
      error_message = "A zonal group needs zone."
    }
  }
}

resource "google_compute_region_instance_group_manager" "this" {
  count = local.regional

  project                   = var.project_id
  name                      = var.name
  base_instance_name        = var.name
  region                    = var.region
  distribution_policy_zones = length(var.distribution_zones) > 0 ? var.distribution_zones : null
  target_size               = var.target_size
  wait_for_instances        = var.wait_for_instances

  version {
    name              = "primary"
    instance_template = var.instance_template
  }

  named_port {
    name = var.named_port_name
    port = var.port
  }

  auto_healing_policies {
    health_check      = google_compute_health_check.this.id
    initial_delay_sec = var.autohealing_initial_delay_sec
  }

  update_policy {
    type                  = "PROACTIVE"
    minimal_action        = "REPLACE"
    replacement_method    = var.replacement_method
    max_surge_fixed       = local.max_surge
    max_unavailable_fixed = local.unavailable
  }

  all_instances_config {
    labels = var.labels
  }

  lifecycle {
    precondition {
      condition     = var.region != null
      error_message = "A regional group needs region."
    }
  }
}
