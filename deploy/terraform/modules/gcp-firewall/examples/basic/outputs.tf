output "ollama_rule_name" {
  description = "The rule that opens Ollama to the gateway."
  value       = module.firewall.ollama_rule_name
}
