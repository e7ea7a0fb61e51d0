output "user_data" {
  description = "The rendered boot script."
  value       = module.boot.user_data
}
