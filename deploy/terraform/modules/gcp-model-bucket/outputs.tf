output "name" {
  description = "The bucket's name."
  value       = google_storage_bucket.this.name
}

output "url" {
  description = "The bucket's gs:// URL (the boot script's model_cache_uri takes it plus a prefix)."
  value       = google_storage_bucket.this.url
}

output "self_link" {
  description = "The bucket's self link."
  value       = google_storage_bucket.this.self_link
}
