variable "region" {
  type        = string
  description = "The primary AWS region."
  default     = "us-east-1"
}

variable "secondary_region" {
  type        = string
  description = "The secondary AWS region (disaster recovery / extra capacity)."
  default     = "us-west-2"
}

variable "secondary_flow_logs_bucket_arn" {
  type        = string
  description = "S3 bucket ARN for the secondary network's flow logs; null turns them off there."
  default     = null
}
