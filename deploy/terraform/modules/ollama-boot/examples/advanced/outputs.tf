output "user_data" {
  description = "The rendered boot script."
  value       = module.boot.user_data
}

output "settings_base64" {
  description = "The settings the script carries (base64 of JSON)."
  value       = module.boot.settings_base64
}
