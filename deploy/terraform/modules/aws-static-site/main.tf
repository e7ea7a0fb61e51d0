# The exported web UI (`flowllama web export`) served from a private S3 bucket through CloudFront:
# HTTPS only (HTTP redirects), TLS 1.2+ with a custom certificate, index.html at the root and,
# optionally, index.html for unknown paths (single-page app routes).
#
# CloudFront reads the bucket through an origin access identity (OAI), not an origin access
# control (OAC): aws_cloudfront_origin_access_control does not exist in provider 3.39, and a module
# cannot mention a resource type its provider lacks. See README "Provider versions".

data "aws_caller_identity" "current" {}

locals {
  bucket = coalesce(var.bucket_name, "${var.name}-web-${data.aws_caller_identity.current.account_id}")
  # AWS's managed "CachingOptimized" cache policy (same id in every account).
  caching_optimized_policy_id = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  origin_id                   = "s3-${local.bucket}"
}

resource "aws_s3_bucket" "site" {
  #checkov:skip=CKV_AWS_144: the site is rebuilt from `flowllama web export` at any time; replication is not worth its cost.
  #checkov:skip=CKV_AWS_145: SSE-S3: an origin access identity cannot read SSE-KMS objects.
  #checkov:skip=CKV2_AWS_62: nothing consumes object events of a static site.
  #checkov:skip=CKV_AWS_18: viewer requests are logged by CloudFront (logging_bucket_domain_name); the bucket itself is only read by CloudFront.
  #checkov:skip=CKV2_AWS_61: old versions are kept for rollback of a bad deploy; the site is small.
  bucket        = local.bucket
  force_destroy = var.force_destroy

  versioning {
    enabled = true
  }

  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }

  tags = merge(var.tags, { Name = local.bucket })
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket = aws_s3_bucket.site.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_cloudfront_origin_access_identity" "site" {
  comment = "FlowLlama web UI ${var.name}"
}

# Only CloudFront (through the identity) reads objects; nothing is readable without TLS.
resource "aws_s3_bucket_policy" "site" {
  bucket = aws_s3_bucket.site.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CloudFrontReads"
        Effect    = "Allow"
        Principal = { AWS = aws_cloudfront_origin_access_identity.site.iam_arn }
        Action    = "s3:GetObject"
        Resource  = "${aws_s3_bucket.site.arn}/*"
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.site.arn, "${aws_s3_bucket.site.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.site]
}

resource "aws_cloudfront_distribution" "site" {
  #checkov:skip=CKV_AWS_68: WAF is optional (web_acl_id): the UI is static files; the API behind it has its own protection.
  #checkov:skip=CKV2_AWS_47: as above, WAF (and its Log4j rule set) is optional via web_acl_id.
  #checkov:skip=CKV_AWS_86: access logs are optional (logging_bucket_domain_name): they need a bucket with ACLs enabled.
  #checkov:skip=CKV_AWS_174: TLS 1.2+ whenever certificate_arn is given; the default *.cloudfront.net certificate cannot set a minimum.
  #checkov:skip=CKV2_AWS_42: a custom certificate is optional (certificate_arn); the default certificate still serves HTTPS.
  #checkov:skip=CKV2_AWS_32: response headers policies need provider 3.64+, and the module must work with 3.39.
  #checkov:skip=CKV_AWS_310: one origin; a static UI has nothing to fail over to.
  #checkov:skip=CKV_AWS_374: the UI is for every country the operator's users are in; restrict outside if needed.
  enabled             = true
  comment             = "FlowLlama web UI ${var.name}"
  default_root_object = var.default_root_object
  aliases             = var.aliases
  price_class         = var.price_class
  is_ipv6_enabled     = true
  http_version        = "http2"
  web_acl_id          = var.web_acl_id
  wait_for_deployment = var.wait_for_deployment

  origin {
    origin_id   = local.origin_id
    domain_name = aws_s3_bucket.site.bucket_regional_domain_name

    s3_origin_config {
      origin_access_identity = aws_cloudfront_origin_access_identity.site.cloudfront_access_identity_path
    }
  }

  default_cache_behavior {
    target_origin_id       = local.origin_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    cache_policy_id        = local.caching_optimized_policy_id
  }

  dynamic "custom_error_response" {
    for_each = var.spa_error_mapping ? [403, 404] : []
    content {
      error_code            = custom_error_response.value
      response_code         = 200
      response_page_path    = "/${var.default_root_object}"
      error_caching_min_ttl = 10
    }
  }

  dynamic "logging_config" {
    for_each = var.logging_bucket_domain_name == null ? [] : [var.logging_bucket_domain_name]
    content {
      bucket          = logging_config.value
      prefix          = "cloudfront/${var.name}/"
      include_cookies = false
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.certificate_arn == null
    acm_certificate_arn            = var.certificate_arn
    ssl_support_method             = var.certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.certificate_arn == null ? null : var.minimum_protocol_version
  }

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = length(var.aliases) == 0 || var.certificate_arn != null
      error_message = "Custom aliases need certificate_arn (an ACM certificate in us-east-1 covering them)."
    }
  }
}
