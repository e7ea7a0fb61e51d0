variable "name" {
  description = "Name of the server the script boots (fl-<deployment id>), written to the env file for logs."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.name))
    error_message = "name must be 2-63 lowercase letters, digits or inner hyphens, starting with a letter."
  }
}

variable "cloud" {
  description = "Cloud the script runs on: \"aws\" (S3 cache, CloudWatch agent) or \"gcp\" (GCS cache, Ops Agent)."
  type        = string

  validation {
    condition     = contains(["aws", "gcp"], var.cloud)
    error_message = "cloud must be \"aws\" or \"gcp\"."
  }
}

variable "ollama_version" {
  description = "Pinned Ollama release (without the leading v), e.g. 0.12.6."
  type        = string
  default     = "0.12.6"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+(-rc[0-9]+)?$", var.ollama_version))
    error_message = "ollama_version must look like 0.12.6 (no leading v)."
  }
}

variable "ollama_sha256" {
  description = "SHA-256 of the release archive (from the release's sha256sum.txt); the script refuses an archive that does not match."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.ollama_sha256))
    error_message = "ollama_sha256 must be 64 lowercase hexadecimal characters."
  }
}

variable "ollama_archive" {
  description = "File name of the release archive for the instance's architecture (.tgz or .tar.zst)."
  type        = string
  default     = "ollama-linux-amd64.tgz"

  validation {
    condition     = can(regex("^ollama-linux-(amd64|arm64)(-rocm)?\\.(tgz|tar\\.zst)$", var.ollama_archive))
    error_message = "ollama_archive must be ollama-linux-<amd64|arm64>[-rocm].<tgz|tar.zst>."
  }
}

variable "ollama_download_base_url" {
  description = "Base URL of the releases; the archive is fetched from <base>/v<version>/<archive>. Point it at a mirror for private networks."
  type        = string
  default     = "https://github.com/ollama/ollama/releases/download"

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$", var.ollama_download_base_url)) && !endswith(var.ollama_download_base_url, "/")
    error_message = "ollama_download_base_url must be an https URL without query or trailing slash."
  }
}

variable "model" {
  description = "Ollama model tag to serve, e.g. llama3.2:1b or hf.co/org/repo:Q4_K_M."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$", var.model))
    error_message = "model must be an Ollama tag: letters, digits, '.', '_', ':', '/', '-' (at most 200)."
  }
}

variable "context_length" {
  description = "OLLAMA_CONTEXT_LENGTH: the deployment's context size in tokens."
  type        = number
  default     = 4096

  validation {
    condition     = var.context_length >= 256 && var.context_length <= 1048576 && floor(var.context_length) == var.context_length
    error_message = "context_length must be a whole number from 256 to 1048576."
  }
}

variable "num_parallel" {
  description = "OLLAMA_NUM_PARALLEL: requests served at once per model."
  type        = number
  default     = 1

  validation {
    condition     = var.num_parallel >= 1 && var.num_parallel <= 256 && floor(var.num_parallel) == var.num_parallel
    error_message = "num_parallel must be a whole number from 1 to 256."
  }
}

variable "keep_alive" {
  description = "OLLAMA_KEEP_ALIVE: how long a model stays loaded (Go duration such as 24h, or -1 for ever)."
  type        = string
  default     = "-1"

  validation {
    condition     = can(regex("^(-1|0|[0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h)([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))*)$", var.keep_alive))
    error_message = "keep_alive must be -1, 0 or a Go duration such as 30m or 24h."
  }
}

variable "ollama_host" {
  description = "Address Ollama listens on (the host part of OLLAMA_HOST); 0.0.0.0 so the gateway and load balancer reach it, firewalls narrow who may."
  type        = string
  default     = "0.0.0.0"

  validation {
    condition     = can(cidrhost("${var.ollama_host}/32", 0))
    error_message = "ollama_host must be an IPv4 address."
  }
}

variable "ollama_port" {
  description = "Port Ollama listens on (the port part of OLLAMA_HOST)."
  type        = number
  default     = 11434

  validation {
    condition     = var.ollama_port >= 1024 && var.ollama_port <= 65535 && floor(var.ollama_port) == var.ollama_port
    error_message = "ollama_port must be a whole number from 1024 to 65535."
  }
}

variable "gpu_expected" {
  description = "Whether the instance has an NVIDIA GPU: the script then requires a working nvidia-smi and stops with a clear error otherwise."
  type        = bool
  default     = true
}

variable "model_cache_uri" {
  description = "Model cache prefix: s3://bucket/prefix on AWS, gs://bucket/prefix on GCP, or \"\" for none. The model is copied from there when present, else pulled from the registry and then uploaded there."
  type        = string
  default     = ""

  validation {
    condition     = var.model_cache_uri == "" || can(regex("^(s3|gs)://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/[A-Za-z0-9._/-]*)?$", var.model_cache_uri))
    error_message = "model_cache_uri must be \"\", s3://bucket[/prefix] or gs://bucket[/prefix]."
  }
}

variable "log_group_name" {
  description = "AWS: CloudWatch Logs group the CloudWatch agent ships to (when the agent is installed). Ignored on GCP."
  type        = string
  default     = "/flowllama/ollama"

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#-]{1,512}$", var.log_group_name))
    error_message = "log_group_name must be 1-512 characters of letters, digits, '_', '.', '/', '#', '-'."
  }
}

variable "log_name" {
  description = "GCP: Cloud Logging log name the Ops Agent writes Ollama's log under (when the agent is installed). Ignored on AWS."
  type        = string
  default     = "flowllama-ollama"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]{0,99}$", var.log_name))
    error_message = "log_name must be 1-100 lowercase letters, digits, '_' or '-', starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod...), written to the env file for logs."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,31}$", var.environment))
    error_message = "environment must be 1-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "deployment_id" {
  description = "FlowLlama deployment id, written to the env file for logs (empty when not a deployment)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?)?$", var.deployment_id))
    error_message = "deployment_id must be empty or 1-60 lowercase letters, digits or inner hyphens."
  }
}

variable "display_name" {
  description = "The user's name for the deployment: arbitrary text, kept as quoted data in the env file (never script text)."
  type        = string
  default     = ""

  validation {
    condition     = length(var.display_name) <= 256
    error_message = "display_name must be at most 256 characters."
  }
}

variable "ready_timeout_seconds" {
  description = "How long the script waits for http://127.0.0.1:<port>/api/tags after starting Ollama."
  type        = number
  default     = 300

  validation {
    condition     = var.ready_timeout_seconds >= 10 && var.ready_timeout_seconds <= 3600 && floor(var.ready_timeout_seconds) == var.ready_timeout_seconds
    error_message = "ready_timeout_seconds must be a whole number from 10 to 3600."
  }
}

variable "log_agent_install" {
  description = "Install the cloud's log agent (CloudWatch agent on AWS, Ops Agent on GCP) when the image has none, so Ollama's log reaches CloudWatch / Cloud Logging. A failed install is a warning: the server still serves, its logs stay on the disk."
  type        = bool
  default     = true
}

variable "cloudwatch_agent_version" {
  description = "CloudWatch agent release installed from AWS's official .deb on Debian/Ubuntu images (its signature is checked against AWS's key); \"latest\" follows AWS. Amazon Linux installs the distribution's package instead."
  type        = string
  default     = "1.300072.0b1766"

  validation {
    condition     = can(regex("^(latest|[0-9]+\\.[0-9]+\\.[0-9]+(b[0-9]+)?)$", var.cloudwatch_agent_version))
    error_message = "cloudwatch_agent_version must be latest or a release such as 1.300072.0b1766."
  }
}

variable "ops_agent_version" {
  description = "Ops Agent version for Google's repository script (--version): 2.*.* pins the major version, 2.58.0 an exact release, latest follows Google."
  type        = string
  default     = "2.*.*"

  validation {
    condition     = can(regex("^(latest|[0-9]+\\.(\\*|[0-9]+)\\.(\\*|[0-9]+))$", var.ops_agent_version))
    error_message = "ops_agent_version must be latest, MAJOR.*.* or MAJOR.MINOR.PATCH."
  }
}

variable "ops_agent_script_sha256" {
  description = "SHA-256 the Ops Agent repository script must have before it runs; \"\" runs it unchecked (Google publishes no checksum; it is fetched over HTTPS and installs only packages signed by Google's repository key)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([0-9a-f]{64})?$", var.ops_agent_script_sha256))
    error_message = "ops_agent_script_sha256 must be empty or 64 lowercase hexadecimal characters."
  }
}
