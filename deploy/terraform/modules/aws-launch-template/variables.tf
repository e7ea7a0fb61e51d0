variable "name" {
  type        = string
  description = "Name of the launch template and prefix of its tags (lowercase letters, digits and hyphens, 2-64 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}[a-z0-9]$", var.name))
    error_message = "The name must be 2-64 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type the optimizer chose (e.g. g5.xlarge)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9-]+$", var.instance_type))
    error_message = "The instance_type must look like family.size, e.g. g5.xlarge."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI to boot; null to look up ami_ssm_parameter instead."
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must look like ami-0123456789abcdef0."
  }
}

variable "ami_ssm_parameter" {
  type        = string
  description = "SSM parameter holding the AMI id when ami_id is null; the default is AWS's GPU Deep Learning Base AMI (Ubuntu 22.04, NVIDIA driver installed)."
  default     = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"

  validation {
    condition     = can(regex("^/[A-Za-z0-9_./-]+$", var.ami_ssm_parameter))
    error_message = "The ami_ssm_parameter must be an SSM parameter path starting with /."
  }
}

variable "root_device_name" {
  type        = string
  description = "Device name of the AMI's root volume (/dev/sda1 on Ubuntu images such as the Deep Learning AMI, /dev/xvda on Amazon Linux)."
  default     = "/dev/sda1"

  validation {
    condition     = can(regex("^/dev/(sd|xvd)[a-z][0-9]*$", var.root_device_name))
    error_message = "The root_device_name must look like /dev/sda1 or /dev/xvda."
  }
}

variable "root_volume_gb" {
  type        = number
  description = "Size of the encrypted root volume in GiB: the OS image plus the model (the stacks size it from the model's weights)."
  default     = 100

  validation {
    condition     = var.root_volume_gb >= 20 && var.root_volume_gb <= 16384 && floor(var.root_volume_gb) == var.root_volume_gb
    error_message = "The root_volume_gb must be a whole number from 20 to 16384."
  }
}

variable "root_volume_type" {
  type        = string
  description = "EBS volume type of the root volume."
  default     = "gp3"

  validation {
    condition     = contains(["gp2", "gp3", "io1", "io2"], var.root_volume_type)
    error_message = "The root_volume_type must be gp2, gp3, io1 or io2."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the root volume; null uses the account's default EBS key. The volume is encrypted either way."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "spot" {
  type        = bool
  description = "Request Spot capacity from the template itself (instance_market_options). Leave false when an Auto Scaling group's mixed instances policy decides Spot vs on-demand."
  default     = false
}

variable "spot_max_price" {
  type        = string
  description = "Highest Spot price per hour in USD (e.g. \"0.50\"); null caps it at the on-demand price."
  default     = null

  validation {
    condition     = var.spot_max_price == null || can(regex("^[0-9]+(\\.[0-9]+)?$", var.spot_max_price))
    error_message = "The spot_max_price must be a decimal number such as 0.50."
  }
}

variable "user_data" {
  type        = string
  description = "The boot script text (the ollama-boot module's user_data output); gzip-compressed (user_data_gzip) and base64-encoded here. Empty for none. EC2's 16 KiB limit applies to the compressed bytes."
  default     = ""
}

variable "user_data_gzip" {
  type        = bool
  description = "Compress user_data with gzip (cloud-init unpacks it): the ollama-boot script is over EC2's 16 KiB as text and about 7 KiB compressed. false passes the text as is, for images without cloud-init."
  default     = true
}

variable "instance_profile_name" {
  type        = string
  description = "Instance profile the servers run as (the aws-iam module's instance_profile_name); null for none."
  default     = null
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the instances (the aws-security-group module's security_group_id)."

  validation {
    condition     = length(var.security_group_ids) > 0 && alltrue([for id in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "Give at least one security group id (sg-...)."
  }
}

variable "key_name" {
  type        = string
  description = "EC2 key pair for SSH (only useful with SSH opened by aws-security-group); null for none."
  default     = null
}

variable "detailed_monitoring" {
  type        = bool
  description = "One-minute CloudWatch instance metrics (extra cost) instead of five-minute ones."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource: the template, and through tag_specifications the instances and volumes it launches."
  default     = {}
}
