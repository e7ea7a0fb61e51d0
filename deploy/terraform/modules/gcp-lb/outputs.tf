output "ip_address" {
  description = "The load balancer's public IP address (point the DNS names here)."
  value       = google_compute_global_address.this.address
}

output "backend_service_id" {
  description = "Id of the backend service."
  value       = google_compute_backend_service.this.id
}

output "https_url" {
  description = "https:// URL of the load balancer (the first managed domain, else the IP address)."
  value       = "https://${local.managed ? var.managed_certificate_domains[0] : google_compute_global_address.this.address}"
}

output "certificate_ids" {
  description = "The certificates the HTTPS proxy serves."
  value       = local.certificates
}
