output "url" {
  description = "The bucket's gs:// URL."
  value       = module.models.url
}
