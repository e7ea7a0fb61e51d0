variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "instance_template" {
  description = "Self link of an instance template (gcp-instance-template)."
  type        = string
}
