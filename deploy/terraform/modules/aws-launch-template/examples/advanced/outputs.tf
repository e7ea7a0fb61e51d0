output "launch_template_id" {
  description = "The launch template's id."
  value       = module.launch_template.launch_template_id
}

output "image_id" {
  description = "The AMI resolved from SSM."
  value       = module.launch_template.image_id
}
