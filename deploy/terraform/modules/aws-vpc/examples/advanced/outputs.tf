output "vpc_id" {
  description = "The primary VPC's id."
  value       = module.vpc.vpc_id
}

output "nat_gateway_ids" {
  description = "One NAT gateway per zone in the primary region."
  value       = module.vpc.nat_gateway_ids
}

output "secondary_vpc_id" {
  description = "The secondary region's VPC id."
  value       = module.vpc_secondary.vpc_id
}
