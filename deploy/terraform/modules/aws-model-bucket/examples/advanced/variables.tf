variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}

variable "bucket_name" {
  type        = string
  description = "Explicit bucket name."
  default     = "flowllama-prod-model-cache-example"
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key; null for SSE-S3."
  default     = null
}

variable "access_log_bucket" {
  type        = string
  description = "Bucket for S3 access logs; null for none."
  default     = null
}
