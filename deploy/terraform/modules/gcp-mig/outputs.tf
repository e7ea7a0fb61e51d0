output "instance_group" {
  description = "Self link of the group's instance group (a backend service's backend)."
  value       = var.regional ? google_compute_region_instance_group_manager.this[0].instance_group : google_compute_instance_group_manager.this[0].instance_group
}

output "instance_group_manager_id" {
  description = "Id of the managed instance group."
  value       = var.regional ? google_compute_region_instance_group_manager.this[0].id : google_compute_instance_group_manager.this[0].id
}

output "health_check_id" {
  description = "Id of the autohealing health check."
  value       = google_compute_health_check.this.id
}

output "named_port" {
  description = "The named port (name and port) a backend service uses."
  value       = { name = var.named_port_name, port = var.port }
}
