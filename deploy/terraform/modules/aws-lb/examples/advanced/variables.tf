variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}

variable "load_balancer_type" {
  type        = string
  description = "application or network."
  default     = "application"
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate for HTTPS/TLS; null serves plain HTTP/TCP (internal only)."
  default     = null
}

variable "access_logs_bucket" {
  type        = string
  description = "Bucket for access logs; null for none."
  default     = null
}

variable "ami_id" {
  type        = string
  description = "GPU AMI to boot (a placeholder by default: put your region's Deep Learning AMI id here); null looks the Deep Learning AMI up in SSM, which moto-based checks cannot do."
  default     = "ami-0123456789abcdef0"
}
