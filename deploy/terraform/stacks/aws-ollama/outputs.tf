output "instance_id" {
  description = "EC2 id of the group's server (null while stopped or not yet launched)."
  value       = try(data.aws_instances.server.ids[0], null)
}

output "private_ip" {
  description = "Private address of the server in the foundation's private subnet."
  value       = try(data.aws_instances.server.private_ips[0], null)
}

output "public_ip" {
  description = "Public address of the server; null, as servers run in private subnets."
  value       = try(data.aws_instances.server.public_ips[0], null)
}

output "endpoint_url" {
  description = "Ollama's URL inside the VPC, reachable from the gateway side only."
  value       = try("http://${data.aws_instances.server.private_ips[0]}:11434", null)
}

output "running" {
  description = "Whether a server is wanted and launched."
  value       = var.running && length(data.aws_instances.server.ids) > 0
}

output "autoscaling_group_name" {
  description = "The auto-scaling group (of one) that keeps the server alive."
  value       = module.asg.autoscaling_group_name
}
