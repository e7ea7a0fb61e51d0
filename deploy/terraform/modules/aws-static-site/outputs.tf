output "bucket_id" {
  description = "Name of the bucket to upload the exported web UI to."
  value       = aws_s3_bucket.site.id
}

output "bucket_arn" {
  description = "ARN of the site bucket."
  value       = aws_s3_bucket.site.arn
}

output "distribution_id" {
  description = "The CloudFront distribution's id (for cache invalidations after an upload)."
  value       = aws_cloudfront_distribution.site.id
}

output "distribution_arn" {
  description = "The CloudFront distribution's ARN."
  value       = aws_cloudfront_distribution.site.arn
}

output "distribution_domain_name" {
  description = "The distribution's *.cloudfront.net domain name (point the aliases' DNS records at it)."
  value       = aws_cloudfront_distribution.site.domain_name
}

output "distribution_hosted_zone_id" {
  description = "The distribution's Route 53 hosted zone id (for alias records)."
  value       = aws_cloudfront_distribution.site.hosted_zone_id
}

output "url" {
  description = "HTTPS URL of the site (the first alias, else the CloudFront domain)."
  value       = "https://${length(var.aliases) > 0 ? var.aliases[0] : aws_cloudfront_distribution.site.domain_name}/"
}

output "origin_access_identity_iam_arn" {
  description = "The IAM ARN CloudFront reads the bucket as (already allowed by the bucket policy)."
  value       = aws_cloudfront_origin_access_identity.site.iam_arn
}
