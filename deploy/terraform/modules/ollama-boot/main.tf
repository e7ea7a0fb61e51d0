# The boot script is static text: every setting reaches it as ONE base64 string of JSON, which
# the script decodes into a quoted env file. No user value is ever interpolated into script text,
# so quotes, $(...), backticks, newlines, ${...} or %{ in a value stay data.

locals {
  # Environment variable name -> value, exactly as the env file will hold them. All strings, so
  # the decoder on the instance has one type to handle.
  settings = {
    OLLAMA_HOST             = "${var.ollama_host}:${var.ollama_port}"
    OLLAMA_CONTEXT_LENGTH   = tostring(var.context_length)
    OLLAMA_NUM_PARALLEL     = tostring(var.num_parallel)
    OLLAMA_KEEP_ALIVE       = var.keep_alive
    OLLAMA_MODELS           = "/var/lib/ollama/models"
    FLOWLLAMA_NAME          = var.name
    FLOWLLAMA_CLOUD         = var.cloud
    FLOWLLAMA_ENVIRONMENT   = var.environment
    FLOWLLAMA_DEPLOYMENT_ID = var.deployment_id
    FLOWLLAMA_DISPLAY_NAME  = var.display_name
    FLOWLLAMA_MODEL         = var.model
    FLOWLLAMA_PORT          = tostring(var.ollama_port)
    FLOWLLAMA_GPU_EXPECTED  = var.gpu_expected ? "true" : "false"
    FLOWLLAMA_MODEL_CACHE   = var.model_cache_uri
    FLOWLLAMA_LOG_GROUP     = var.log_group_name
    FLOWLLAMA_LOG_NAME      = var.log_name
    FLOWLLAMA_READY_TIMEOUT = tostring(var.ready_timeout_seconds)
    FLOWLLAMA_OLLAMA_VER    = var.ollama_version
    FLOWLLAMA_OLLAMA_SHA256 = var.ollama_sha256
    FLOWLLAMA_OLLAMA_URL    = "${var.ollama_download_base_url}/v${var.ollama_version}/${var.ollama_archive}"
    # The cloud's log agent, installed when the image has none (see README "Logs").
    FLOWLLAMA_LOG_AGENT_INSTALL       = var.log_agent_install ? "true" : "false"
    FLOWLLAMA_CWA_VERSION             = var.cloudwatch_agent_version
    FLOWLLAMA_OPS_AGENT_VERSION       = var.ops_agent_version
    FLOWLLAMA_OPS_AGENT_SCRIPT_SHA256 = var.ops_agent_script_sha256
  }

  settings_b64 = base64encode(jsonencode(local.settings))

  # The placeholder sits inside single quotes in the script; base64 text ([A-Za-z0-9+/=]) can
  # never close them.
  user_data = replace(file("${path.module}/templates/boot.sh"), "@@FLOWLLAMA_SETTINGS_B64@@", local.settings_b64)
}
