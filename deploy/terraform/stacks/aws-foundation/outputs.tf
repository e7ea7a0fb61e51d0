# The names of these outputs are the "foundation" object the aws-ollama stack takes
# (flowllama.providers.terraform.cloud_stacks.AWS_FOUNDATION_OUTPUTS): change both together.

output "vpc_id" {
  description = "The VPC every deployment's server joins."
  value       = module.vpc.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets (no public addresses, internet through NAT) for the servers."
  value       = module.vpc.private_subnet_ids
}

output "gateway_security_group_id" {
  description = "Security group of the gateway side: the only source allowed to reach Ollama (11434)."
  value       = module.gateway_security_group.security_group_id
}

output "instance_profile_name" {
  description = "Instance profile of the Ollama servers (read the model bucket, write logs and metrics)."
  value       = module.iam.instance_profile_name
}

output "model_bucket_name" {
  description = "The model cache bucket (versioned, encrypted, private)."
  value       = module.model_bucket.bucket_id
}

output "instance_log_group_name" {
  description = "CloudWatch Logs group the servers ship Ollama's and the boot script's logs to (with retention)."
  value       = aws_cloudwatch_log_group.instances.name
}

output "flow_log_group_name" {
  description = "CloudWatch Logs group receiving the VPC flow logs."
  value       = module.vpc.flow_log_group_name
}

output "agent_policy_json" {
  description = "IAM policy document with exactly what the FlowLlama agent's Terraform runs need."
  value       = module.iam.agent_policy_json
}
