# A global external Application Load Balancer (HTTPS) in front of Ollama instance groups:
# address, health check on /api/tags, backend service, URL map, HTTPS proxy with a managed or
# given certificate and a TLS 1.2+ policy, forwarding rule on 443, optional 80 -> 443 redirect.
# Backends in any zone are balanced across zones.

locals {
  managed      = length(var.managed_certificate_domains) > 0
  certificates = local.managed ? [google_compute_managed_ssl_certificate.this[0].id] : var.ssl_certificates
}

resource "google_compute_global_address" "this" {
  project = var.project_id
  name    = "${var.name}-lb"
  labels  = var.labels
}

resource "google_compute_health_check" "this" {
  project             = var.project_id
  name                = "${var.name}-lb"
  check_interval_sec  = 10
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 3

  http_health_check {
    port         = var.port
    request_path = var.health_check_path
  }

  log_config {
    enable = true
  }
}

resource "google_compute_backend_service" "this" {
  project                         = var.project_id
  name                            = "${var.name}-ollama"
  protocol                        = "HTTP"
  port_name                       = var.port_name
  load_balancing_scheme           = "EXTERNAL_MANAGED"
  timeout_sec                     = var.timeout_sec
  connection_draining_timeout_sec = 300
  health_checks                   = [google_compute_health_check.this.id]
  security_policy                 = var.security_policy != "" ? var.security_policy : null

  dynamic "backend" {
    for_each = toset(var.backend_groups)
    content {
      group           = backend.value
      balancing_mode  = "UTILIZATION"
      max_utilization = 0.8
      capacity_scaler = 1
    }
  }

  log_config {
    enable      = true
    sample_rate = var.log_sample_rate
  }
}

resource "google_compute_url_map" "this" {
  project         = var.project_id
  name            = "${var.name}-https"
  default_service = google_compute_backend_service.this.id
}

resource "google_compute_managed_ssl_certificate" "this" {
  count = local.managed ? 1 : 0

  project = var.project_id
  name    = "${var.name}-cert"

  managed {
    domains = var.managed_certificate_domains
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "this" {
  project         = var.project_id
  name            = "${var.name}-tls"
  profile         = var.ssl_policy_profile
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "this" {
  project          = var.project_id
  name             = "${var.name}-https"
  url_map          = google_compute_url_map.this.id
  ssl_certificates = local.certificates
  ssl_policy       = google_compute_ssl_policy.this.id

  lifecycle {
    precondition {
      condition     = length(local.certificates) > 0
      error_message = "Give managed_certificate_domains or ssl_certificates."
    }
  }
}

resource "google_compute_global_forwarding_rule" "https" {
  project               = var.project_id
  name                  = "${var.name}-https"
  ip_address            = google_compute_global_address.this.id
  ip_protocol           = "TCP"
  port_range            = "443"
  target                = google_compute_target_https_proxy.this.id
  load_balancing_scheme = "EXTERNAL_MANAGED"
  labels                = var.labels
}

resource "google_compute_url_map" "redirect" {
  count = var.http_redirect ? 1 : 0

  project = var.project_id
  name    = "${var.name}-http-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  count = var.http_redirect ? 1 : 0

  project = var.project_id
  name    = "${var.name}-http-redirect"
  url_map = google_compute_url_map.redirect[0].id
}

resource "google_compute_global_forwarding_rule" "http" {
  count = var.http_redirect ? 1 : 0

  project               = var.project_id
  name                  = "${var.name}-http"
  ip_address            = google_compute_global_address.this.id
  ip_protocol           = "TCP"
  port_range            = "80"
  target                = google_compute_target_http_proxy.redirect[0].id
  load_balancing_scheme = "EXTERNAL_MANAGED"
  labels                = var.labels
}
