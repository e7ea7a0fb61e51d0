# A global custom-mode VPC, regional subnets (with secondary ranges and flow logs), and one
# Cloud Router + Cloud NAT per subnet region so private instances reach the internet.

locals {
  subnets = { for s in var.subnets : s.name => s }
  regions = toset([for s in var.subnets : s.region])
}

resource "google_compute_network" "this" {
  project                         = var.project_id
  name                            = var.name
  auto_create_subnetworks         = false
  routing_mode                    = var.routing_mode
  delete_default_routes_on_create = false
}

resource "google_compute_subnetwork" "this" {
  for_each = local.subnets

  project                  = var.project_id
  name                     = "${var.name}-${each.key}"
  network                  = google_compute_network.this.id
  region                   = each.value.region
  ip_cidr_range            = each.value.ip_cidr_range
  private_ip_google_access = each.value.private_ip_google_access

  dynamic "secondary_ip_range" {
    for_each = each.value.secondary_ranges
    content {
      range_name    = secondary_ip_range.key
      ip_cidr_range = secondary_ip_range.value
    }
  }

  log_config {
    aggregation_interval = var.flow_logs.aggregation_interval
    flow_sampling        = var.flow_logs.flow_sampling
    metadata             = var.flow_logs.metadata
  }
}

resource "google_compute_router" "this" {
  for_each = var.enable_nat ? local.regions : toset([])

  project = var.project_id
  name    = "${var.name}-${each.key}"
  region  = each.key
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  for_each = google_compute_router.this

  project                            = var.project_id
  name                               = "${var.name}-${each.key}"
  router                             = each.value.name
  region                             = each.key
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = var.nat_log_filter
  }
}
