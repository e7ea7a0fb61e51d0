variable "project_id" {
  description = "GCP project to create the network in."
  type        = string
}
