output "https_url" {
  description = "Where Ollama is served."
  value       = module.lb.https_url
}
