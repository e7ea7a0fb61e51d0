output "lb_arn" {
  description = "The load balancer's ARN."
  value       = aws_lb.this.arn
}

output "lb_dns_name" {
  description = "The load balancer's DNS name."
  value       = aws_lb.this.dns_name
}

output "lb_zone_id" {
  description = "The load balancer's Route 53 hosted zone id (for alias records)."
  value       = aws_lb.this.zone_id
}

output "target_group_arn" {
  description = "The Ollama target group's ARN (give it to aws-asg as target_group_arns)."
  value       = aws_lb_target_group.ollama.arn
}

output "listener_arn" {
  description = "The listener's ARN."
  value       = aws_lb_listener.this.arn
}

output "security_group_id" {
  description = "The ALB's security group (allow it in aws-security-group's ollama_source_security_group_ids); null for an NLB."
  value       = one(aws_security_group.lb[*].id)
}

output "endpoint_url" {
  description = "Base URL of the Ollama API behind the load balancer."
  value       = "${local.scheme}://${aws_lb.this.dns_name}:${local.port}"
}
