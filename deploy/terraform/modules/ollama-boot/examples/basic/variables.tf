variable "ollama_sha256" {
  description = "SHA-256 of the pinned release archive (from the release's sha256sum.txt)."
  type        = string
  default     = "0000000000000000000000000000000000000000000000000000000000000000"
}
