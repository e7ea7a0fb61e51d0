# A provider-free stand-in for a cloud foundation (terraform_data only): its outputs have the
# shape of the AWS foundation's, so the foundation → deployment hand-over runs offline.

terraform {
  required_version = ">= 1.5.0"
}

variable "name" {
  type        = string
  description = "Name prefix."
}

variable "region" {
  type        = string
  description = "Region."
}

variable "environment" {
  type        = string
  description = "Environment."
}

variable "tags" {
  type        = map(string)
  description = "Tags."
  default     = {}
}

resource "terraform_data" "network" {
  input = { name = var.name, region = var.region, environment = var.environment, tags = var.tags }
}

output "vpc_id" {
  description = "Stand-in VPC id."
  value       = "vpc-${substr(replace(terraform_data.network.id, "-", ""), 0, 8)}"
}

output "private_subnet_ids" {
  description = "Stand-in subnets."
  value       = ["subnet-a-${var.region}", "subnet-b-${var.region}"]
}

output "gateway_security_group_id" {
  description = "Stand-in group."
  value       = "sg-gateway"
}

output "instance_profile_name" {
  description = "Stand-in profile."
  value       = "${var.name}-instances"
}

output "model_bucket_name" {
  description = "Stand-in bucket."
  value       = "${var.name}-models"
}

output "instance_log_group_name" {
  description = "Stand-in log group."
  value       = "/flowllama/${var.name}/ollama"
}

output "seen" {
  description = "What the foundation was given."
  value       = terraform_data.network.output
}
