variable "project_id" {
  description = "GCP project of the bucket."
  type        = string
}

variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string
  default     = "flowllama-models-example"
}
