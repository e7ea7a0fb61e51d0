output "launch_template_id" {
  description = "The launch template's id."
  value       = aws_launch_template.this.id
}

output "launch_template_arn" {
  description = "The launch template's ARN."
  value       = aws_launch_template.this.arn
}

output "launch_template_name" {
  description = "The launch template's name."
  value       = aws_launch_template.this.name
}

output "latest_version" {
  description = "The template's latest version number (changes whenever the template does; aws-asg refreshes instances on it)."
  value       = aws_launch_template.this.latest_version
}

output "image_id" {
  description = "The AMI the template boots."
  value       = local.image_id
}

output "instance_type" {
  description = "The template's instance type."
  value       = var.instance_type
}

output "spot" {
  description = "Whether the template itself requests Spot capacity."
  value       = var.spot
}
