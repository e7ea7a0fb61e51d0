# The smallest use: a GPU server on AWS, no model cache. No provider is needed; the rendered
# script is the output.
terraform {
  required_version = ">= 1.5.0"
}

module "boot" {
  source = "../.."

  name          = "fl-example"
  cloud         = "aws"
  ollama_sha256 = var.ollama_sha256
  model         = "llama3.2:1b"
}
