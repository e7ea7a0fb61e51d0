output "ollama_rule_name" {
  description = "Name of the rule that opens the Ollama port to the gateway."
  value       = google_compute_firewall.ollama_from_gateway.name
}

output "ssh_rule_name" {
  description = "Name of the SSH allow-list rule, or null when SSH is off."
  value       = try(google_compute_firewall.ssh[0].name, null)
}

output "egress_rule_names" {
  description = "Names of the egress rules: the HTTPS allow and the lower-priority deny-all."
  value       = [google_compute_firewall.egress_https.name, google_compute_firewall.egress_deny_all.name]
}

output "target_tags" {
  description = "Network tags an Ollama server must carry for these rules to apply (null when the rules target service accounts)."
  value       = local.target_tags
}
