output "agent_service_account_email" {
  description = "The agent's identity."
  value       = module.identities.agent_service_account_email
}

output "agent_permissions" {
  description = "What the agent may do."
  value       = module.identities.agent_permissions
}
