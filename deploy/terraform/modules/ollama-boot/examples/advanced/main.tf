# Every option: a GCP server with a GCS model cache, a larger context, a private release mirror
# and Cloud Logging under a custom log name. Values a user typed (display_name) stay data.
terraform {
  required_version = ">= 1.5.0"
}

module "boot" {
  source = "../.."

  name                     = "fl-0123abcd"
  cloud                    = "gcp"
  ollama_version           = "0.12.6"
  ollama_sha256            = var.ollama_sha256
  ollama_archive           = "ollama-linux-amd64.tgz"
  ollama_download_base_url = var.ollama_download_base_url
  model                    = "qwen2.5:7b-instruct"
  context_length           = 16384
  num_parallel             = 4
  keep_alive               = "24h"
  ollama_port              = 11434
  gpu_expected             = true
  model_cache_uri          = "gs://flowllama-models-example/cache"
  log_name                 = "flowllama-ollama"
  environment              = "prod"
  deployment_id            = "0123abcd"
  display_name             = var.display_name
  ready_timeout_seconds    = 600
}
