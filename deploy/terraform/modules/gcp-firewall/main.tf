# Firewall rules for the Ollama servers (instances running as target_service_accounts, or else
# carrying target_tags):
#   ingress: the Ollama port only from the gateway (ranges and/or tags) and the health checkers;
#            SSH only when enabled, only from an allow-list, never in prod;
#   egress:  HTTPS to egress_https_ranges, then deny everything else at a lower priority.
# GCP always allows the metadata server (169.254.169.254: startup script, tokens, DNS, NTP), and
# the implied ingress rule denies everything not allowed here.

locals {
  rule_sets = {
    dev     = { log = false, ssh_allowed = true }
    staging = { log = true, ssh_allowed = true }
    prod    = { log = true, ssh_allowed = false }
  }
  rules = local.rule_sets[var.environment]

  # Rules target the servers' identity when given, else their network tags (never both: GCP
  # refuses a rule with both).
  by_identity             = length(var.target_service_accounts) > 0
  target_tags             = local.by_identity ? null : var.target_tags
  target_service_accounts = local.by_identity ? var.target_service_accounts : null

  health_check_ranges = ["35.191.0.0/16", "130.211.0.0/22"]
  ollama_ranges       = concat(var.gateway_source_ranges, var.allow_health_checks ? local.health_check_ranges : [])
}

resource "google_compute_firewall" "ollama_from_gateway" {
  project     = var.project_id
  name        = "${var.name}-ollama-from-gateway"
  network     = var.network
  description = "Ollama (${var.ollama_port}) from the FlowLlama gateway and health checkers only."
  direction   = "INGRESS"
  priority    = 1000

  source_ranges           = length(local.ollama_ranges) > 0 ? local.ollama_ranges : null
  source_tags             = length(var.gateway_source_tags) > 0 ? var.gateway_source_tags : null
  target_tags             = local.target_tags
  target_service_accounts = local.target_service_accounts

  allow {
    protocol = "tcp"
    ports    = [tostring(var.ollama_port)]
  }

  dynamic "log_config" {
    for_each = local.rules.log ? [1] : []
    content {
      metadata = "INCLUDE_ALL_METADATA"
    }
  }

  lifecycle {
    # With neither ranges nor tags GCP would default the source to 0.0.0.0/0.
    precondition {
      condition     = length(local.ollama_ranges) + length(var.gateway_source_tags) > 0
      error_message = "Give gateway_source_ranges or gateway_source_tags: a rule without sources would be open to the internet."
    }
  }
}

resource "google_compute_firewall" "ssh" {
  count = var.ssh_enabled ? 1 : 0

  project                 = var.project_id
  name                    = "${var.name}-ssh-allow-list"
  network                 = var.network
  description             = "SSH from the allow-list only (enabled for ${var.environment})."
  direction               = "INGRESS"
  priority                = 1000
  source_ranges           = var.ssh_source_ranges
  target_tags             = local.target_tags
  target_service_accounts = local.target_service_accounts

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  dynamic "log_config" {
    for_each = local.rules.log ? [1] : []
    content {
      metadata = "INCLUDE_ALL_METADATA"
    }
  }

  lifecycle {
    precondition {
      condition     = local.rules.ssh_allowed
      error_message = "SSH is refused in the ${var.environment} environment."
    }
    precondition {
      condition     = length(var.ssh_source_ranges) > 0
      error_message = "ssh_enabled needs a non-empty ssh_source_ranges allow-list."
    }
  }
}

resource "google_compute_firewall" "egress_https" {
  project                 = var.project_id
  name                    = "${var.name}-egress-https"
  network                 = var.network
  description             = "HTTPS out: Ollama release, model registry, Google APIs."
  direction               = "EGRESS"
  priority                = 1000
  destination_ranges      = var.egress_https_ranges
  target_tags             = local.target_tags
  target_service_accounts = local.target_service_accounts

  allow {
    protocol = "tcp"
    ports    = ["443"]
  }

  dynamic "log_config" {
    for_each = local.rules.log ? [1] : []
    content {
      metadata = "INCLUDE_ALL_METADATA"
    }
  }
}

resource "google_compute_firewall" "egress_deny_all" {
  project                 = var.project_id
  name                    = "${var.name}-egress-deny-all"
  network                 = var.network
  description             = "Everything else out is denied (lower priority than the allows)."
  direction               = "EGRESS"
  priority                = 65000
  destination_ranges      = ["0.0.0.0/0"]
  target_tags             = local.target_tags
  target_service_accounts = local.target_service_accounts

  deny {
    protocol = "all"
  }

  dynamic "log_config" {
    for_each = local.rules.log ? [1] : []
    content {
      metadata = "INCLUDE_ALL_METADATA"
    }
  }
}
