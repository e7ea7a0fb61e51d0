variable "ollama_sha256" {
  description = "SHA-256 of the pinned release archive (from the release's sha256sum.txt)."
  type        = string
  default     = "0000000000000000000000000000000000000000000000000000000000000000"
}

variable "ollama_download_base_url" {
  description = "Release mirror reachable from the private subnet."
  type        = string
  default     = "https://releases.example.internal/ollama"
}

variable "display_name" {
  description = "The user's name for the deployment (free text)."
  type        = string
  default     = "Team \"A\" $(not a command)"
}
