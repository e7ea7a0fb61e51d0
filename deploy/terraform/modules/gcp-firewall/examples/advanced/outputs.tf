output "ssh_rule_name" {
  description = "The SSH allow-list rule."
  value       = module.firewall.ssh_rule_name
}

output "egress_rule_names" {
  description = "The egress rules."
  value       = module.firewall.egress_rule_names
}
