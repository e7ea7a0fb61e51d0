output "url" {
  description = "The site's HTTPS URL."
  value       = module.site.url
}

output "distribution_id" {
  description = "Invalidate this distribution's cache after an upload."
  value       = module.site.distribution_id
}
