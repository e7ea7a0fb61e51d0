output "vpc_id" {
  description = "The VPC's id."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "The VPC's IPv4 CIDR block."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "The availability zones used, in subnet order."
  value       = var.availability_zones
}

output "public_subnet_ids" {
  description = "Ids of the public subnets, one per availability zone, in zone order."
  value       = aws_subnet.public[*].id
}

output "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets, in zone order."
  value       = aws_subnet.public[*].cidr_block
}

output "private_subnet_ids" {
  description = "Ids of the private subnets, one per availability zone, in zone order."
  value       = aws_subnet.private[*].id
}

output "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets, in zone order."
  value       = aws_subnet.private[*].cidr_block
}

output "internet_gateway_id" {
  description = "The internet gateway's id."
  value       = aws_internet_gateway.this.id
}

output "public_route_table_id" {
  description = "Id of the route table shared by the public subnets."
  value       = aws_route_table.public.id
}

output "private_route_table_ids" {
  description = "Ids of the private route tables, one per availability zone."
  value       = aws_route_table.private[*].id
}

output "nat_gateway_ids" {
  description = "Ids of the NAT gateways (empty when nat_gateway_mode is none)."
  value       = aws_nat_gateway.this[*].id
}

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways: the addresses private instances reach the internet from."
  value       = aws_eip.nat[*].public_ip
}

output "flow_log_id" {
  description = "The VPC flow log's id, or null when flow logs are off."
  value       = one(aws_flow_log.this[*].id)
}

output "flow_log_group_name" {
  description = "The CloudWatch log group receiving flow logs, or null when they go elsewhere."
  value       = one(aws_cloudwatch_log_group.flow_logs[*].name)
}
