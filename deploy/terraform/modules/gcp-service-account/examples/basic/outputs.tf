output "instance_service_account_email" {
  description = "The servers' identity."
  value       = module.identities.instance_service_account_email
}
