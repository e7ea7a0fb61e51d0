output "name" {
  description = "The bucket's name."
  value       = module.models.name
}
