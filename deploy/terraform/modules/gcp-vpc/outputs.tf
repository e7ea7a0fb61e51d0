output "network_id" {
  description = "The network's id (projects/<project>/global/networks/<name>)."
  value       = google_compute_network.this.id
}

output "network_name" {
  description = "The network's name."
  value       = google_compute_network.this.name
}

output "network_self_link" {
  description = "The network's self link."
  value       = google_compute_network.this.self_link
}

output "subnet_self_links" {
  description = "Subnet self link by subnet name suffix."
  value       = { for key, subnet in google_compute_subnetwork.this : key => subnet.self_link }
}

output "subnets" {
  description = "Per subnet name suffix: id, self_link, region, ip_cidr_range and secondary ranges (name => CIDR)."
  value = { for key, subnet in google_compute_subnetwork.this : key => {
    id               = subnet.id
    self_link        = subnet.self_link
    region           = subnet.region
    ip_cidr_range    = subnet.ip_cidr_range
    secondary_ranges = { for r in subnet.secondary_ip_range : r.range_name => r.ip_cidr_range }
  } }
}

output "router_names" {
  description = "Cloud Router name by region (empty when enable_nat is false)."
  value       = { for region, router in google_compute_router.this : region => router.name }
}

output "nat_names" {
  description = "Cloud NAT name by region (empty when enable_nat is false)."
  value       = { for region, nat in google_compute_router_nat.this : region => nat.name }
}
