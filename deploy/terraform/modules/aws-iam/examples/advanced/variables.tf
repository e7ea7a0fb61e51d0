variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}
