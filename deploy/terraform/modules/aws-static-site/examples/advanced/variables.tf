variable "region" {
  type        = string
  description = "AWS region of the bucket (CloudFront itself is global)."
  default     = "us-east-1"
}

variable "bucket_name" {
  type        = string
  description = "Explicit bucket name."
  default     = "flowllama-ui-prod-site-example"
}

variable "aliases" {
  type        = list(string)
  description = "Custom domain names (used only with certificate_arn)."
  default     = ["ui.flowllama.example.com"]
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate in us-east-1 covering the aliases; null keeps the CloudFront domain."
  default     = null
}

variable "web_acl_id" {
  type        = string
  description = "WAFv2 web ACL ARN; null for none."
  default     = null
}

variable "logging_bucket_domain_name" {
  type        = string
  description = "Bucket domain name for CloudFront logs; null for none."
  default     = null
}
