output "autoscaling_group_name" {
  description = "The Auto Scaling group's name (find its instances with DescribeAutoScalingGroups)."
  value       = aws_autoscaling_group.this.name
}

output "autoscaling_group_arn" {
  description = "The Auto Scaling group's ARN."
  value       = aws_autoscaling_group.this.arn
}

output "autoscaling_group_id" {
  description = "The Auto Scaling group's id."
  value       = aws_autoscaling_group.this.id
}

output "spot_mix" {
  description = "Whether the group uses a mixed instances policy."
  value       = var.spot_mix
}
