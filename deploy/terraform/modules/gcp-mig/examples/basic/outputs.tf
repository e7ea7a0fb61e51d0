output "instance_group" {
  description = "The group's instance group."
  value       = module.mig.instance_group
}
