output "endpoint_url" {
  description = "Where the gateway reaches Ollama."
  value       = module.lb.endpoint_url
}

output "autoscaling_group_name" {
  description = "The group behind the load balancer."
  value       = module.asg.autoscaling_group_name
}
