output "instance_profile_name" {
  description = "Give this to the launch template."
  value       = module.iam.instance_profile_name
}

output "agent_role_arn" {
  description = "The role the agent assumes."
  value       = module.iam.agent_role_arn
}
