variable "name" {
  type        = string
  description = "Name prefix for every resource (lowercase letters, digits and hyphens, 2-32 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "The name must be 2-32 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "model_bucket_arn" {
  type        = string
  description = "ARN of the model cache bucket the instances read (and write when model_cache_write_enabled); null for no bucket access."
  default     = null

  validation {
    condition     = var.model_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.model_bucket_arn))
    error_message = "The model_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::bucket-name)."
  }
}

variable "model_object_prefix" {
  type        = string
  description = "Key prefix of the model cache inside the bucket (\"\" for the whole bucket, else ending in /)."
  default     = "models/"

  validation {
    condition     = var.model_object_prefix == "" || can(regex("^[A-Za-z0-9._-][A-Za-z0-9._/-]*/$", var.model_object_prefix))
    error_message = "The model_object_prefix must be empty or a key prefix of letters, digits, . _ - / ending in /."
  }
}

variable "model_cache_write_enabled" {
  type        = bool
  description = "Let instances fill the model cache (s3:PutObject under the prefix) after pulling from the Ollama registry."
  default     = true
}

variable "model_bucket_kms_key_arn" {
  type        = string
  description = "KMS key encrypting the model bucket, if any: instances get kms:Decrypt (and kms:GenerateDataKey when they write)."
  default     = null

  validation {
    condition     = var.model_bucket_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.model_bucket_kms_key_arn))
    error_message = "The model_bucket_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_group_prefix" {
  type        = string
  description = "CloudWatch Logs group name prefix the instances may create and write (the boot script ships logs under it)."
  default     = "/flowllama/"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]*/$", var.log_group_prefix))
    error_message = "The log_group_prefix must start and end with / (e.g. /flowllama/)."
  }
}

variable "metrics_namespace" {
  type        = string
  description = "The only CloudWatch metrics namespace the instances may publish to (CWAgent is the CloudWatch agent's default)."
  default     = "CWAgent"

  validation {
    condition     = length(var.metrics_namespace) > 0 && length(var.metrics_namespace) <= 255
    error_message = "The metrics_namespace must be 1-255 characters."
  }
}

variable "instance_extra_policy_arns" {
  type        = list(string)
  description = "Managed policies to attach to the instance role as well (e.g. AmazonSSMManagedInstanceCore for Session Manager)."
  default     = []

  validation {
    condition     = alltrue([for arn in var.instance_extra_policy_arns : can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/", arn))])
    error_message = "Every extra policy must be an IAM policy ARN."
  }
}

variable "agent_policy_enabled" {
  type        = bool
  description = "Create the agent's managed policy (what its Terraform runs of the aws-ollama stack need)."
  default     = true
}

variable "agent_role_trust_policy_json" {
  type        = string
  description = "Trust policy (JSON) of a role for the agent; when set, the role is created with the agent policy attached. null: policy only, attach it yourself."
  default     = null

  validation {
    condition     = var.agent_role_trust_policy_json == null || can(jsondecode(var.agent_role_trust_policy_json).Statement)
    error_message = "The agent_role_trust_policy_json must be a JSON policy document with a Statement."
  }
}

variable "agent_name_prefix" {
  type        = string
  description = "Prefix of the Auto Scaling groups, load balancers and target groups the agent may manage (FlowLlama names deployments fl-<id>)."
  default     = "fl-"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.agent_name_prefix))
    error_message = "The agent_name_prefix must be 1-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "agent_elb_enabled" {
  type        = bool
  description = "Grant the agent Elastic Load Balancing (v2) permissions, for stacks that put a load balancer in front of a deployment."
  default     = false
}

variable "agent_state_bucket_arn" {
  type        = string
  description = "S3 bucket holding the agent's Terraform state (S3 backend); null when state is kept elsewhere."
  default     = null

  validation {
    condition     = var.agent_state_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.agent_state_bucket_arn))
    error_message = "The agent_state_bucket_arn must be an S3 bucket ARN."
  }
}

variable "agent_lock_table_arn" {
  type        = string
  description = "DynamoDB table the S3 backend locks state with; null when locking uses S3 lock files or another backend."
  default     = null

  validation {
    condition     = var.agent_lock_table_arn == null || can(regex("^arn:aws[a-z-]*:dynamodb:", var.agent_lock_table_arn))
    error_message = "The agent_lock_table_arn must be a DynamoDB table ARN."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
