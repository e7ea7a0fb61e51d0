variable "project_id" {
  description = "GCP project of the identities."
  type        = string
}

variable "model_bucket_name" {
  description = "The model cache bucket."
  type        = string
  default     = "flowllama-models-example"
}
