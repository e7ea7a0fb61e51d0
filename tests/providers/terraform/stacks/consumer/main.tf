# A provider-free stand-in for a deployment stack that builds on a foundation: it echoes the
# typed foundation object it was given.

terraform {
  required_version = ">= 1.5.0"
}

variable "deployment_name" {
  type        = string
  description = "fl-<deployment id>."
}

variable "region" {
  type        = string
  description = "Region."
}

variable "foundation" {
  type = object({
    vpc_id                    = string
    private_subnet_ids        = list(string)
    gateway_security_group_id = string
    instance_profile_name     = string
    model_bucket_name         = string
    instance_log_group_name   = string
  })
  description = "The foundation's outputs."
}

resource "terraform_data" "server" {
  input = { name = var.deployment_name, foundation = var.foundation }
}

output "instance_id" {
  description = "Stand-in instance id."
  value       = "i-${substr(replace(terraform_data.server.id, "-", ""), 0, 17)}"
}

output "public_ip" {
  description = "None."
  value       = null
}

output "endpoint_url" {
  description = "Stand-in endpoint."
  value       = "http://10.0.0.1:11434"
}

output "echo" {
  description = "The foundation as the stack received it."
  value       = terraform_data.server.output.foundation
}
