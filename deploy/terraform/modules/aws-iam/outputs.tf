output "instance_role_arn" {
  description = "ARN of the role the Ollama servers run as."
  value       = aws_iam_role.instance.arn
}

output "instance_role_name" {
  description = "Name of the role the Ollama servers run as."
  value       = aws_iam_role.instance.name
}

output "instance_profile_name" {
  description = "Name of the instance profile to give launch templates."
  value       = aws_iam_instance_profile.instance.name
}

output "instance_profile_arn" {
  description = "ARN of the instance profile to give launch templates."
  value       = aws_iam_instance_profile.instance.arn
}

output "instance_policy_json" {
  description = "The instance role's inline policy document (JSON), for review."
  value       = aws_iam_role_policy.instance.policy
}

output "agent_policy_arn" {
  description = "ARN of the agent's managed policy, or null when agent_policy_enabled is false."
  value       = one(aws_iam_policy.agent[*].arn)
}

output "agent_policy_json" {
  description = "The agent policy document (JSON), for review or for attaching elsewhere."
  value = jsonencode({
    Version   = "2012-10-17"
    Statement = local.agent_statements
  })
}

output "agent_role_arn" {
  description = "ARN of the agent role, or null when no trust policy was given."
  value       = one(aws_iam_role.agent[*].arn)
}

output "agent_role_name" {
  description = "Name of the agent role, or null when no trust policy was given."
  value       = one(aws_iam_role.agent[*].name)
}
