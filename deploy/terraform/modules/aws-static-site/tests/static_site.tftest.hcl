# Distribution logic with a mocked provider: HTTPS, root object, SPA mapping, certificates.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn                         = "arn:aws:s3:::tss-web-123456789012"
      bucket_regional_domain_name = "tss-web-123456789012.s3.us-east-1.amazonaws.com"
    }
  }
  mock_resource "aws_cloudfront_origin_access_identity" {
    defaults = {
      iam_arn                         = "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2EXAMPLE"
      cloudfront_access_identity_path = "origin-access-identity/cloudfront/E2EXAMPLE"
    }
  }
  mock_resource "aws_cloudfront_distribution" {
    defaults = { domain_name = "d111111abcdef8.cloudfront.net" }
  }
}

variables {
  name = "tss"
}

run "defaults" {
  command = apply

  assert {
    condition     = aws_cloudfront_distribution.site.default_root_object == "index.html"
    error_message = "index.html at the root."
  }
  assert {
    condition     = aws_cloudfront_distribution.site.default_cache_behavior[0].viewer_protocol_policy == "redirect-to-https"
    error_message = "HTTP redirects to HTTPS."
  }
  assert {
    condition     = length(aws_cloudfront_distribution.site.custom_error_response) == 2
    error_message = "403 and 404 map to index.html by default."
  }
  assert {
    condition     = one(aws_cloudfront_distribution.site.viewer_certificate).cloudfront_default_certificate
    error_message = "The default certificate without certificate_arn."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.site.policy).Statement[0].Principal.AWS == "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2EXAMPLE"
    error_message = "Only the origin access identity reads the bucket."
  }
  assert {
    condition     = output.url == "https://d111111abcdef8.cloudfront.net/"
    error_message = "The URL is the CloudFront domain without aliases."
  }
}

run "custom_domain" {
  command = plan

  variables {
    aliases           = ["ui.example.com"]
    certificate_arn   = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    spa_error_mapping = false
  }

  assert {
    condition     = one(aws_cloudfront_distribution.site.viewer_certificate).minimum_protocol_version == "TLSv1.2_2021" && one(aws_cloudfront_distribution.site.viewer_certificate).ssl_support_method == "sni-only"
    error_message = "TLS 1.2+ over SNI with a custom certificate."
  }
  assert {
    condition     = length(aws_cloudfront_distribution.site.custom_error_response) == 0
    error_message = "No error mapping when turned off."
  }
  assert {
    condition     = output.url == "https://ui.example.com/"
    error_message = "The URL uses the first alias."
  }
}

run "aliases_need_a_certificate" {
  command = plan

  variables {
    aliases = ["ui.example.com"]
  }

  expect_failures = [aws_cloudfront_distribution.site]
}

run "certificate_must_be_in_us_east_1" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
  }

  expect_failures = [var.certificate_arn]
}
