variable "project_id" {
  description = "GCP project of the bucket."
  type        = string
}

variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string
  default     = "flowllama-models-prod-example"
}

variable "kms_key_name" {
  description = "Cloud KMS key for CMEK."
  type        = string
  default     = "projects/example/locations/europe-west4/keyRings/flowllama/cryptoKeys/models"
}
