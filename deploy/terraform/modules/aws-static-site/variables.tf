variable "name" {
  type        = string
  description = "Name prefix for every resource (lowercase letters, digits and hyphens, 2-32 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "The name must be 2-32 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "bucket_name" {
  type        = string
  description = "Name of the bucket holding the exported web UI; null derives <name>-web-<account id>."
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "The bucket_name must be 3-63 lowercase letters, digits or hyphens (no dots: CloudFront reaches the bucket over TLS)."
  }
}

variable "aliases" {
  type        = list(string)
  description = "Custom domain names of the site (need certificate_arn covering them)."
  default     = []

  validation {
    condition     = alltrue([for a in var.aliases : can(regex("^[a-z0-9*]([a-z0-9.-]*[a-z0-9])?$", a))])
    error_message = "Every alias must be a lowercase domain name."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate (in us-east-1) for the aliases, served with SNI and TLS 1.2+; null uses CloudFront's default *.cloudfront.net certificate."
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:us-east-1:", var.certificate_arn))
    error_message = "The certificate_arn must be an ACM certificate ARN in us-east-1 (CloudFront's requirement)."
  }
}

variable "minimum_protocol_version" {
  type        = string
  description = "Lowest TLS version viewers may use with certificate_arn (the default certificate always allows CloudFront's own minimum)."
  default     = "TLSv1.2_2021"

  validation {
    condition     = contains(["TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021"], var.minimum_protocol_version)
    error_message = "The minimum_protocol_version must be TLSv1.2_2018, TLSv1.2_2019 or TLSv1.2_2021."
  }
}

variable "default_root_object" {
  type        = string
  description = "Object served for the site root."
  default     = "index.html"
}

variable "spa_error_mapping" {
  type        = bool
  description = "Serve /index.html with status 200 for 403 and 404 answers, so client-side routes of the single-page UI load on refresh."
  default     = true
}

variable "price_class" {
  type        = string
  description = "CloudFront edge locations used: PriceClass_100 (cheapest), PriceClass_200 or PriceClass_All."
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "The price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "web_acl_id" {
  type        = string
  description = "AWS WAF web ACL (ARN for WAFv2) to protect the distribution; null for none."
  default     = null
}

variable "logging_bucket_domain_name" {
  type        = string
  description = "Bucket (its bucket_domain_name, ACLs enabled) receiving CloudFront standard logs; null for none."
  default     = null
}

variable "wait_for_deployment" {
  type        = bool
  description = "Wait until the distribution is deployed to every edge (can take 15 minutes)."
  default     = true
}

variable "force_destroy" {
  type        = bool
  description = "Let Terraform delete the site bucket with its objects."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
