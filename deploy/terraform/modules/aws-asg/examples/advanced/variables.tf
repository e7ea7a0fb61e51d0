variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}

variable "ami_id" {
  type        = string
  description = "AMI to boot; null looks up the GPU Deep Learning AMI in SSM."
  default     = null
}
