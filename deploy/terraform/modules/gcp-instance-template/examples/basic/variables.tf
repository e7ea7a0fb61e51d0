variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "subnetwork" {
  description = "Subnetwork self link."
  type        = string
}

variable "service_account_email" {
  description = "The instance identity."
  type        = string
}

variable "ollama_sha256" {
  description = "SHA-256 of the pinned Ollama release archive."
  type        = string
}
