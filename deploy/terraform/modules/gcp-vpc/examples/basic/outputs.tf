output "subnet_self_links" {
  description = "Subnet self links by name."
  value       = module.vpc.subnet_self_links
}
