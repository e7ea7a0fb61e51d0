variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}

variable "ami_ssm_parameter" {
  type        = string
  description = "SSM parameter holding the AMI id (default: the GPU Deep Learning Base AMI, Ubuntu 22.04)."
  default     = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the root volume; null uses the account's default EBS key."
  default     = null
}

variable "user_data" {
  type        = string
  description = "The boot script (in a stack: module.ollama_boot.user_data)."
  default     = "#!/bin/bash\necho 'the ollama-boot module output goes here'\n"
}
