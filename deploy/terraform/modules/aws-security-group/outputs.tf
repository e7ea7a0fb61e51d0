output "security_group_id" {
  description = "Id of the Ollama servers' security group."
  value       = aws_security_group.this.id
}

output "security_group_arn" {
  description = "ARN of the Ollama servers' security group."
  value       = aws_security_group.this.arn
}

output "security_group_name" {
  description = "Name of the Ollama servers' security group."
  value       = aws_security_group.this.name
}

output "ollama_port" {
  description = "The port opened to the gateway side."
  value       = var.ollama_port
}

output "ssh_open" {
  description = "Whether SSH ingress exists (ssh_enabled with a non-empty allow-list)."
  value       = length(aws_security_group_rule.ssh) > 0
}
