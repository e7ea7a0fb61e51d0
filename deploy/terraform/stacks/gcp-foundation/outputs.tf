# The first five are what the gcp-ollama stack takes as its `foundation` variable
# (flowllama.providers.terraform.cloud_stacks.GCP_FOUNDATION_OUTPUTS).

output "network" {
  description = "Self link of the VPC network."
  value       = module.vpc.network_self_link
}

output "subnetwork" {
  description = "Self link of the region's subnet the Ollama servers join."
  value       = module.vpc.subnet_self_links[var.region]
}

output "gateway_tag" {
  description = "Network tag that lets a gateway instance in this network reach the Ollama port."
  value       = var.gateway_tag
}

output "service_account_email" {
  description = "The Ollama servers' identity (model bucket read + add, log and metric writes)."
  value       = module.identities.instance_service_account_email
}

output "model_bucket_name" {
  description = "The model cache bucket."
  value       = module.model_bucket.name
}

output "agent_service_account_email" {
  description = "The agent's identity (give the agent its credentials or Workload Identity)."
  value       = module.identities.agent_service_account_email
}

output "agent_permissions" {
  description = "What the agent's identity may do (its custom role)."
  value       = module.identities.agent_permissions
}

output "nat_names" {
  description = "Cloud NAT by region."
  value       = module.vpc.nat_names
}

output "instance_log_bucket" {
  description = "Cloud Logging bucket (with retention) the servers' Ollama and boot logs are routed to."
  value       = google_logging_project_bucket_config.instances.id
}
