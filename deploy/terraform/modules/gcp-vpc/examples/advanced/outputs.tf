output "subnets" {
  description = "Subnets with their secondary ranges."
  value       = module.vpc.subnets
}

output "nat_names" {
  description = "Cloud NAT per region."
  value       = module.vpc.nat_names
}
