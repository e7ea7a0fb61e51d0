output "self_link" {
  description = "The template."
  value       = module.template.self_link
}
