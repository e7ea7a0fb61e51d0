variable "project_id" {
  description = "GCP project of the network."
  type        = string
}

variable "network" {
  description = "Self link or name of the VPC network."
  type        = string
  default     = "flowllama"
}
