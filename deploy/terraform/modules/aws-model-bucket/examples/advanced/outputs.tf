output "bucket_arn" {
  description = "The bucket's ARN."
  value       = module.model_bucket.bucket_arn
}
