output "autoscaling_group_name" {
  description = "The group's name."
  value       = module.asg.autoscaling_group_name
}
