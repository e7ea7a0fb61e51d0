variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}

variable "ami_id" {
  type        = string
  description = "GPU AMI to boot (a placeholder by default: put your region's Deep Learning AMI id here); null looks the Deep Learning AMI up in SSM, which moto-based checks cannot do."
  default     = "ami-0123456789abcdef0"
}
