variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "instance_groups" {
  description = "Instance group self links in two zones."
  type        = list(string)
}

variable "certificate" {
  description = "Self link of an existing SSL certificate."
  type        = string
}

variable "security_policy" {
  description = "Cloud Armor policy self link."
  type        = string
}
