output "self_link" {
  description = "Self link of the template (give it to gcp-mig)."
  value       = google_compute_instance_template.this.self_link
}

output "id" {
  description = "The template's id."
  value       = google_compute_instance_template.this.id
}

output "name" {
  description = "The template's generated name."
  value       = google_compute_instance_template.this.name
}
