#!/usr/bin/env bash
# FlowLlama boot script (AWS user data / GCP startup-script), rendered by the Terraform module
# deploy/terraform/modules/ollama-boot. It installs a pinned, checksum-verified Ollama release,
# runs it under systemd with FlowLlama's settings, puts the model in place (model cache first,
# Ollama registry second, then fills the cache) and ships logs to CloudWatch / Cloud Logging,
# installing the cloud's log agent when the image lacks it.
#
# Idempotent: a second run installs, writes, restarts, pulls and uploads nothing.
#
# Settings arrive as ONE base64 string of JSON (below) and are decoded into an env file where
# every value is double-quoted with \ " $ ` escaped: valid for systemd's EnvironmentFile= and for
# bash alike. No setting is ever part of this script's text.
#
# FLOWLLAMA_BOOT_ROOT (default /) prefixes every path the script reads or writes on disk, so a
# test can run it in a sandbox directory; commands are found on PATH.
#
# shellcheck disable=SC2154 # the FLOWLLAMA_* settings are assigned by sourcing the env file
set -euo pipefail
umask 022

FLOWLLAMA_SETTINGS_B64='@@FLOWLLAMA_SETTINGS_B64@@'

ROOT="${FLOWLLAMA_BOOT_ROOT:-/}"
ROOT="${ROOT%/}"
# Paths as the running system sees them (written into the unit and agent configs)...
ENV_FILE_PATH=/etc/flowllama/ollama.env
LOG_DIR_PATH=/var/log/flowllama
CWA_DIR_PATH=/opt/aws/amazon-cloudwatch-agent
# ...and where this run writes them.
ENV_FILE="$ROOT$ENV_FILE_PATH"
UNIT_FILE="$ROOT/etc/systemd/system/ollama.service"
STATE_DIR="$ROOT/var/lib/flowllama"
OLLAMA_HOME="$ROOT/var/lib/ollama"
MODELS_DIR="$OLLAMA_HOME/models"
INSTALL_PREFIX="$ROOT/usr/local"
LOG_DIR="$ROOT$LOG_DIR_PATH"
CWA_CTL="$ROOT$CWA_DIR_PATH/bin/amazon-cloudwatch-agent-ctl"
CWA_CONFIG_PATH="$CWA_DIR_PATH/etc/flowllama.json"
OPS_AGENT_DIR="$ROOT/etc/google-cloud-ops-agent"
# AWS signs the CloudWatch agent's packages with this key (its documented fingerprint); a package
# whose signature is not by this key is not installed.
CWA_BASE_URL=https://amazoncloudwatch-agent.s3.amazonaws.com
CWA_KEY_FINGERPRINT=937616F3450B7D806CBD9725D58167303B789C72
OPS_AGENT_REPO_SCRIPT_URL=https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh

# Set by write_if_changed; each step copies it into its own flag. Functions never report
# "changed" through their exit status: bash ignores `set -e` inside a function called from an
# `if`, which would hide a failed download.
WROTE=0
UNIT_CHANGED=0
ENV_CHANGED=0
OLLAMA_CHANGED=0

# Decodes the settings and renders files from them. Reads FLOWLLAMA_SETTINGS_B64 from its
# environment; the first argument says what to print.
PY_RENDER=$(
  cat <<'PY'
import base64, json, os, re, sys

settings = json.loads(base64.b64decode(os.environ["FLOWLLAMA_SETTINGS_B64"], validate=True))
if not isinstance(settings, dict):
    sys.exit("flowllama-boot: settings are not a JSON object")
for key, value in settings.items():
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key) or not isinstance(value, str) or "\0" in value:
        sys.exit(f"flowllama-boot: bad setting {key!r}")


def quoted(value):
    """systemd EnvironmentFile= and bash both read this back as exactly `value`."""
    for char in ("\\", '"', "$", "`"):
        value = value.replace(char, "\\" + char)
    return '"' + value + '"'


log_dir = sys.argv[2]
gpu = settings["FLOWLLAMA_GPU_EXPECTED"] == "true"
mode = sys.argv[1]
if mode == "env":
    lines = ["# Written by the FlowLlama boot script from its settings; do not edit."]
    lines += [f"{key}={quoted(settings[key])}" for key in sorted(settings)]
    print("\n".join(lines))
elif mode == "cloudwatch":
    group = settings["FLOWLLAMA_LOG_GROUP"]
    files = [
        {"file_path": f"{log_dir}/{name}.log", "log_group_name": group,
         "log_stream_name": "{instance_id}/" + name, "timezone": "UTC"}
        for name in ("ollama", "boot")
    ]
    metrics = {"mem": {"measurement": ["mem_used_percent"]},
               "disk": {"measurement": ["used_percent"], "resources": ["/"]}}
    if gpu:
        metrics["nvidia_gpu"] = {"measurement": ["utilization_gpu", "memory_used", "memory_total"]}
    config = {
        "agent": {"run_as_user": "root"},
        "logs": {"logs_collected": {"files": {"collect_list": files}}},
        "metrics": {"namespace": "FlowLlama", "metrics_collected": metrics,
                    "append_dimensions": {"InstanceId": "${aws:InstanceId}"}},
    }
    print(json.dumps(config, indent=2, sort_keys=True))
elif mode == "opsagent":
    name = settings["FLOWLLAMA_LOG_NAME"]
    receivers = {name: {"type": "files", "include_paths": [f"{log_dir}/ollama.log"]},
                 name + "-boot": {"type": "files", "include_paths": [f"{log_dir}/boot.log"]}}
    config = {"logging": {"receivers": receivers, "service": {"pipelines": {
        "flowllama": {"receivers": sorted(receivers)}}}}}
    if gpu:
        config["metrics"] = {"receivers": {"nvml": {"type": "nvml"}},
                             "service": {"pipelines": {"nvml": {"receivers": ["nvml"]}}}}
    # JSON is YAML: the Ops Agent reads this as its config.yaml.
    print(json.dumps(config, indent=2, sort_keys=True))
else:
    sys.exit(f"flowllama-boot: unknown render mode {mode!r}")
PY
)

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) flowllama-boot: $*"
  printf '%s\n' "$line" >&2
  printf '%s\n' "$line" >>"$LOG_DIR/boot.log" 2>/dev/null || true
}

die() {
  log "ERROR: $*"
  exit 1
}

render() {
  FLOWLLAMA_SETTINGS_B64="$FLOWLLAMA_SETTINGS_B64" python3 -c "$PY_RENDER" "$1" "$LOG_DIR_PATH"
}

# write_if_changed TARGET MODE CONTENT: puts CONTENT (plus a newline) at TARGET unless it already
# holds exactly that; sets WROTE to 1 when it wrote, 0 when the file was left alone.
write_if_changed() {
  local target=$1 mode=$2 content=$3 tmp
  WROTE=0
  mkdir -p "$(dirname "$target")"
  tmp=$(mktemp "$target.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  if [[ -f $target ]] && cmp -s "$tmp" "$target"; then
    rm -f "$tmp"
    return 0
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$target"
  WROTE=1
  log "wrote $target"
}

write_env_file() {
  command -v python3 >/dev/null 2>&1 || die "python3 is required to decode the settings"
  local content
  content=$(render env)
  write_if_changed "$ENV_FILE" 0600 "$content"
  ENV_CHANGED=$WROTE
  # shellcheck source=/dev/null
  . "$ENV_FILE"
  # The CLI talks to the local server whatever address the server listens on.
  export OLLAMA_HOST="127.0.0.1:$FLOWLLAMA_PORT"
}

check_gpu() {
  [[ $FLOWLLAMA_GPU_EXPECTED == true ]] || return 0
  command -v nvidia-smi >/dev/null 2>&1 ||
    die "a GPU is expected but nvidia-smi is missing: boot an image that carries the NVIDIA driver (Deep Learning AMI / Deep Learning VM image)"
  local gpus
  gpus=$(nvidia-smi -L 2>&1) || die "a GPU is expected but nvidia-smi fails (driver not loaded?): $gpus"
  grep -q '^GPU ' <<<"$gpus" || die "a GPU is expected but nvidia-smi lists none: $gpus"
  log "NVIDIA driver ok: $(grep -c '^GPU ' <<<"$gpus") GPU(s)"
}

install_ollama() {
  local marker="$STATE_DIR/ollama-release"
  local want="$FLOWLLAMA_OLLAMA_VER $FLOWLLAMA_OLLAMA_SHA256"
  if [[ -x $INSTALL_PREFIX/bin/ollama && -f $marker && "$(<"$marker")" == "$want" ]]; then
    log "Ollama $FLOWLLAMA_OLLAMA_VER already installed"
    return 0
  fi
  local dir archive
  dir=$(mktemp -d "$STATE_DIR/download.XXXXXX")
  archive="$dir/${FLOWLLAMA_OLLAMA_URL##*/}"
  log "downloading Ollama $FLOWLLAMA_OLLAMA_VER from $FLOWLLAMA_OLLAMA_URL"
  curl -fsSL --proto '=https' --retry 5 --retry-delay 2 -o "$archive" "$FLOWLLAMA_OLLAMA_URL"
  printf '%s  %s\n' "$FLOWLLAMA_OLLAMA_SHA256" "$archive" >"$dir/SHA256SUMS"
  if ! sha256sum --check --strict "$dir/SHA256SUMS" >&2; then
    rm -rf "$dir"
    die "checksum mismatch for $FLOWLLAMA_OLLAMA_URL (expected sha256 $FLOWLLAMA_OLLAMA_SHA256): not installing it"
  fi
  # An upgrade must not keep the previous release's GPU runners next to the new binary.
  rm -rf "$INSTALL_PREFIX/lib/ollama"
  mkdir -p "$INSTALL_PREFIX"
  case $archive in
    *.tar.zst) tar --zstd -xf "$archive" -C "$INSTALL_PREFIX" ;;
    *) tar -xzf "$archive" -C "$INSTALL_PREFIX" ;;
  esac
  rm -rf "$dir"
  [[ -x $INSTALL_PREFIX/bin/ollama ]] || die "the archive has no bin/ollama"
  printf '%s\n' "$want" >"$marker"
  OLLAMA_CHANGED=1
  log "installed Ollama $FLOWLLAMA_OLLAMA_VER"
}

ensure_user() {
  # The account database is the system's own (not under FLOWLLAMA_BOOT_ROOT).
  if ! getent passwd ollama >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/ollama --shell /usr/sbin/nologin ollama
  fi
  if [[ ! -d $MODELS_DIR ]]; then
    mkdir -p "$MODELS_DIR"
    chown -R ollama:ollama "$OLLAMA_HOME"
  fi
}

write_unit() {
  local unit
  unit=$(
    cat <<UNIT
# Written by the FlowLlama boot script; do not edit.
[Unit]
Description=Ollama (FlowLlama)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
User=ollama
Group=ollama
EnvironmentFile=$ENV_FILE_PATH
ExecStart=/usr/local/bin/ollama serve
Restart=always
RestartSec=3
StandardOutput=append:$LOG_DIR_PATH/ollama.log
StandardError=inherit
LimitNOFILE=65536
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ProtectHome=yes
ReadWritePaths=/var/lib/ollama

[Install]
WantedBy=multi-user.target
UNIT
  )
  write_if_changed "$UNIT_FILE" 0644 "$unit"
  UNIT_CHANGED=$WROTE
}

start_service() {
  if ((UNIT_CHANGED)); then
    systemctl daemon-reload
  fi
  systemctl is-enabled --quiet ollama.service || systemctl enable ollama.service
  if ! systemctl is-active --quiet ollama.service; then
    systemctl start ollama.service
  elif ((UNIT_CHANGED || ENV_CHANGED || OLLAMA_CHANGED)); then
    log "settings or release changed: restarting Ollama"
    systemctl restart ollama.service
  fi
}

# The log agent is a convenience: when it cannot be installed the server still serves and its
# logs stay on the disk, so every failure below is a warning. Each step ends in `|| return 1`
# because `set -e` does not apply inside a function called from an `if`.
install_log_agent() {
  [[ $FLOWLLAMA_LOG_AGENT_INSTALL == true ]] || return 0
  case $FLOWLLAMA_CLOUD in
    aws) [[ -x $CWA_CTL ]] && return 0 ;;
    gcp) [[ -d $OPS_AGENT_DIR ]] && return 0 ;;
    *) return 0 ;;
  esac
  if ! "install_${FLOWLLAMA_CLOUD}_log_agent"; then
    log "WARNING: could not install the $FLOWLLAMA_CLOUD log agent: logs stay in $LOG_DIR_PATH and the journal"
  fi
}

install_aws_log_agent() {
  if command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then
    # Amazon Linux carries the agent in its own (signed) repository.
    log "installing amazon-cloudwatch-agent from the distribution's repository"
    "$(command -v dnf || command -v yum)" install -y amazon-cloudwatch-agent || return 1
  elif command -v dpkg >/dev/null 2>&1; then
    install_cloudwatch_deb || return 1
  else
    log "no dnf, yum or dpkg to install the CloudWatch agent with"
    return 1
  fi
  [[ -x $CWA_CTL ]] || return 1
  log "installed the CloudWatch agent"
}

# The official .deb of the pinned release, installed only when its detached signature is by
# AWS's CloudWatch agent key.
install_cloudwatch_deb() {
  local dir url arch status=1
  arch=$(dpkg --print-architecture) || return 1
  url="$CWA_BASE_URL/ubuntu/$arch/$FLOWLLAMA_CWA_VERSION/amazon-cloudwatch-agent.deb"
  dir=$(mktemp -d "$STATE_DIR/cwa.XXXXXX") || return 1
  log "installing the CloudWatch agent $FLOWLLAMA_CWA_VERSION from $url"
  if fetch "$CWA_BASE_URL/assets/amazon-cloudwatch-agent.gpg" "$dir/key.gpg" &&
    fetch "$url" "$dir/agent.deb" && fetch "$url.sig" "$dir/agent.deb.sig"; then
    if signed_by "$CWA_KEY_FINGERPRINT" "$dir" "$dir/agent.deb.sig" "$dir/agent.deb"; then
      dpkg -i "$dir/agent.deb" >&2 && status=0
    else
      log "the CloudWatch agent package is not signed by AWS's key $CWA_KEY_FINGERPRINT: not installing it"
    fi
  fi
  rm -rf "$dir"
  return "$status"
}

fetch() {
  curl -fsSL --proto '=https' --retry 5 --retry-delay 2 -o "$2" "$1"
}

# signed_by FINGERPRINT DIR SIGNATURE FILE: whether SIGNATURE is a good signature of FILE by the
# key with FINGERPRINT (its primary key), checked with a throw-away keyring in DIR holding only
# the key downloaded next to the package (DIR/key.gpg).
signed_by() {
  local want=$1 home="$2/gnupg" status line primary=""
  mkdir -m 700 "$home" || return 1
  gpg --homedir "$home" --batch --quiet --import "$2/key.gpg" || return 1
  status=$(gpg --homedir "$home" --batch --status-fd 1 --verify "$3" "$4" 2>/dev/null) || return 1
  while read -r line; do
    # [GNUPG:] VALIDSIG <key fpr> <date> <time> <expiry> <version> <reserved> <algo> <hash>
    # <class> <primary key fpr>
    if [[ $line == "[GNUPG:] VALIDSIG "* ]]; then
      primary=${line##* }
    fi
  done <<<"$status"
  [[ -n $primary && $primary == "$want" ]]
}

# Google's documented install: its repository script adds the Ops Agent's signed apt/yum
# repository for the pinned major version and installs the package from it.
install_gcp_log_agent() {
  local dir status=1
  dir=$(mktemp -d "$STATE_DIR/ops-agent.XXXXXX") || return 1
  log "installing the Ops Agent $FLOWLLAMA_OPS_AGENT_VERSION with $OPS_AGENT_REPO_SCRIPT_URL"
  if fetch "$OPS_AGENT_REPO_SCRIPT_URL" "$dir/add-repo.sh"; then
    if [[ -n $FLOWLLAMA_OPS_AGENT_SCRIPT_SHA256 ]] &&
      ! printf '%s  %s\n' "$FLOWLLAMA_OPS_AGENT_SCRIPT_SHA256" "$dir/add-repo.sh" |
      sha256sum --check --strict >&2; then
      log "checksum mismatch for $OPS_AGENT_REPO_SCRIPT_URL: not running it"
    elif bash "$dir/add-repo.sh" --also-install "--version=$FLOWLLAMA_OPS_AGENT_VERSION" >&2; then
      status=0
    fi
  fi
  rm -rf "$dir"
  if ((status != 0)) || [[ ! -d $OPS_AGENT_DIR ]]; then
    return 1
  fi
  log "installed the Ops Agent"
}

configure_logging() {
  local config
  if [[ $FLOWLLAMA_CLOUD == aws && -x $CWA_CTL ]]; then
    config=$(render cloudwatch)
    write_if_changed "$ROOT$CWA_CONFIG_PATH" 0644 "$config"
    if ((WROTE)); then
      "$CWA_CTL" -a fetch-config -m ec2 -s -c "file:$CWA_CONFIG_PATH"
    fi
  elif [[ $FLOWLLAMA_CLOUD == gcp && -d $OPS_AGENT_DIR ]]; then
    config=$(render opsagent)
    write_if_changed "$OPS_AGENT_DIR/config.yaml" 0644 "$config"
    if ((WROTE)); then
      systemctl restart google-cloud-ops-agent.service
    fi
  else
    log "no log agent for $FLOWLLAMA_CLOUD on this image: logs stay in $LOG_DIR_PATH and the journal"
  fi
}

wait_ready() {
  local url="http://127.0.0.1:$FLOWLLAMA_PORT/api/tags"
  local deadline=$((SECONDS + FLOWLLAMA_READY_TIMEOUT))
  until curl -fsS --max-time 5 -o /dev/null "$url"; do
    ((SECONDS < deadline)) ||
      die "Ollama did not answer $url within ${FLOWLLAMA_READY_TIMEOUT}s (see journalctl -u ollama)"
    sleep 2
  done
  log "Ollama answers $url"
}

model_present() {
  ollama show "$FLOWLLAMA_MODEL" >/dev/null 2>&1
}

# The model's place in the cache: <cache>/<name path>/<tag>, ":latest" when no tag is given.
cache_prefix() {
  local model=$FLOWLLAMA_MODEL
  [[ ${model##*/} == *:* ]] || model="$model:latest"
  printf '%s/%s' "${FLOWLLAMA_MODEL_CACHE%/}" "${model//:/\/}"
}

# cache_cmd ACTION [ARGS]: the cache operations for the cloud's CLI. ACTION is exists URI,
# download URI DIR, upload DIR URI or mark URI (reads stdin).
cache_cmd() {
  local action=$1
  shift
  case "$FLOWLLAMA_CLOUD:$action" in
    aws:exists) aws s3 ls "$1" >/dev/null ;;
    aws:download) aws s3 sync --only-show-errors "$1/" "$2/" ;;
    aws:upload) aws s3 sync --only-show-errors "$1/" "$2/" ;;
    aws:mark) aws s3 cp --only-show-errors - "$1" ;;
    gcp:*) gcs_cmd "$action" "$@" ;;
    *) return 2 ;;
  esac
}

gcs_cmd() {
  local action=$1
  shift
  if command -v gcloud >/dev/null 2>&1; then
    case $action in
      exists) gcloud storage ls "$1" >/dev/null ;;
      download | upload) gcloud storage rsync --recursive "$1" "$2" ;;
      mark) gcloud storage cp - "$1" ;;
      *) return 2 ;;
    esac
  else
    case $action in
      exists) gsutil -q stat "$1" ;;
      download | upload) gsutil -m -q rsync -r "$1" "$2" ;;
      mark) gsutil -q cp - "$1" ;;
      *) return 2 ;;
    esac
  fi
}

cache_cli_present() {
  case $FLOWLLAMA_CLOUD in
    aws) command -v aws >/dev/null 2>&1 ;;
    gcp) command -v gcloud >/dev/null 2>&1 || command -v gsutil >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

ensure_model() {
  if model_present; then
    log "model $FLOWLLAMA_MODEL already present"
    return 0
  fi
  local prefix="" use_cache=0
  if [[ -n $FLOWLLAMA_MODEL_CACHE ]]; then
    if cache_cli_present; then
      use_cache=1
      prefix=$(cache_prefix)
    else
      log "model cache $FLOWLLAMA_MODEL_CACHE set but no $FLOWLLAMA_CLOUD storage CLI on this image: skipping it"
    fi
  fi
  if ((use_cache)) && cache_cmd exists "$prefix/.complete"; then
    log "copying $FLOWLLAMA_MODEL from the model cache $prefix"
    if cache_cmd download "$prefix/models" "$MODELS_DIR"; then
      chown -R ollama:ollama "$MODELS_DIR"
    else
      log "copy from the model cache failed: pulling from the registry instead"
    fi
    if model_present; then
      log "model $FLOWLLAMA_MODEL ready (from the cache)"
      return 0
    fi
  fi
  pull_from_registry
  if ((use_cache)); then
    log "filling the model cache $prefix"
    if cache_cmd upload "$MODELS_DIR" "$prefix/models" &&
      printf '%s\n' "$FLOWLLAMA_MODEL" | cache_cmd mark "$prefix/.complete"; then
      log "model cache filled"
    else
      log "WARNING: could not fill the model cache $prefix (the server runs regardless)"
    fi
  fi
}

pull_from_registry() {
  local attempt
  for attempt in 1 2 3; do
    log "pulling $FLOWLLAMA_MODEL from the Ollama registry (attempt $attempt)"
    if ollama pull "$FLOWLLAMA_MODEL"; then
      model_present || die "ollama pull reported success but $FLOWLLAMA_MODEL is not listed"
      log "model $FLOWLLAMA_MODEL ready (from the registry)"
      return 0
    fi
    sleep $((attempt * 5))
  done
  die "could not pull $FLOWLLAMA_MODEL from the Ollama registry"
}

main() {
  mkdir -p "$LOG_DIR" "$STATE_DIR"
  log "boot script starting (root ${ROOT:-/})"
  write_env_file
  check_gpu
  install_ollama
  ensure_user
  write_unit
  install_log_agent
  configure_logging
  start_service
  wait_ready
  ensure_model
  log "ready: $FLOWLLAMA_MODEL on port $FLOWLLAMA_PORT"
}

main "$@"
