output "instance_service_account_email" {
  description = "Email of the Ollama servers' identity (attach it to the instance template)."
  value       = google_service_account.instance.email
}

output "agent_service_account_email" {
  description = "Email of the agent's identity, or null when create_agent is false."
  value       = try(google_service_account.agent[0].email, null)
}

output "agent_role_id" {
  description = "Full id of the agent's custom role, or null when create_agent is false."
  value       = try(google_project_iam_custom_role.agent[0].name, null)
}

output "instance_roles" {
  description = "Roles granted to the instance identity: on the project and on the model bucket."
  value       = { project = local.instance_project_roles, model_bucket = local.instance_bucket_roles }
}

output "agent_permissions" {
  description = "The permissions of the agent's custom role."
  value       = local.agent_permissions
}
