# Provider-free on purpose: the module only renders text, so the real Terraform engine can apply
# it offline (tests/deploy/terraform/test_ollama_boot.py does exactly that).
terraform {
  required_version = ">= 1.5.0"
}
