output "instance_id" {
  value = "i-${substr(replace(terraform_data.server.id, "-", ""), 0, 17)}"
}

output "public_ip" {
  value = terraform_data.server.output.public_ip
}

output "endpoint_url" {
  value = "http://${terraform_data.server.output.public_ip}:${terraform_data.server.output.port}"
}

output "running" {
  value = terraform_data.server.output.running
}

# Everything the server was given, for verbatim round-trip checks.
output "echo" {
  value = terraform_data.server.output
}
