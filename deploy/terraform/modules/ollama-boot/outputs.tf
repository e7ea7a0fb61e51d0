output "user_data" {
  description = "The full boot script (bash): user data on AWS, the startup-script metadata value on GCP."
  value       = local.user_data
}

output "settings_base64" {
  description = "The settings the script carries: base64 of the JSON object of environment variable name to value."
  value       = local.settings_b64
}

output "env_file_path" {
  description = "Where the script writes the env file (systemd EnvironmentFile of the ollama unit)."
  value       = "/etc/flowllama/ollama.env"
}
