variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "instance_group" {
  description = "Instance group self link (gcp-mig's instance_group)."
  type        = string
}
