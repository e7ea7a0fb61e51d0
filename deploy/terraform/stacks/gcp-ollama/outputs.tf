output "instance_id" {
  description = "Compute Engine id of the group's server (null while stopped)."
  value       = try(data.google_compute_instance.server[0].instance_id, null)
}

output "instance_name" {
  description = "Name of the group's server (null while stopped)."
  value       = try(data.google_compute_instance.server[0].name, null)
}

output "private_ip" {
  description = "Private address of the server in the foundation's subnet."
  value       = try(data.google_compute_instance.server[0].network_interface[0].network_ip, null)
}

output "public_ip" {
  description = "Public address of the server; null, as servers have none (they egress through Cloud NAT)."
  value       = try(data.google_compute_instance.server[0].network_interface[0].access_config[0].nat_ip, null)
}

output "endpoint_url" {
  description = "Ollama's URL inside the VPC, reachable from the gateway only."
  value       = try("http://${data.google_compute_instance.server[0].network_interface[0].network_ip}:11434", null)
}

output "running" {
  description = "Whether a server is wanted and present."
  value       = var.running && length(data.google_compute_instance.server) > 0
}

output "zone" {
  description = "Zone of the group."
  value       = local.zone
}

output "instance_group_manager_id" {
  description = "The managed instance group (of one) that keeps the server alive."
  value       = module.mig.instance_group_manager_id
}
