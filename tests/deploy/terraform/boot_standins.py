"""Recording stand-ins for the commands the Ollama boot script runs, used by test_ollama_boot.py.

Usage: ``python boot_standins.py <command> <args...>``, called by the small wrappers the test puts
on PATH (``systemctl``, ``curl``, ``aws``, ``gcloud``, ``gsutil``, ``ollama``, ``nvidia-smi``,
``getent``, ``useradd``, ``chown``, the CloudWatch agent's ctl, and recording pass-throughs to the
real ``sha256sum`` and ``tar``). Every call is appended to ``$BOOT_SANDBOX/calls.jsonl``.

They keep just enough state (in ``$BOOT_SANDBOX``) to behave like the real thing across two
runs: systemd's enabled/active units, the system's users, a fake S3 / GCS as directories (in
``$BOOT_STORE``, which several sandboxed machines may share), and the
"server's" models as manifest files under the sandboxed models directory. Started as a script,
so it imports nothing from FlowLlama.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

SANDBOX = Path(os.environ["BOOT_SANDBOX"])
STORE = Path(os.environ["BOOT_STORE"])
ROOT = Path(os.environ["BOOT_ROOT"])
MODELS = ROOT / "var" / "lib" / "ollama" / "models"
STATE = SANDBOX / "state.json"


def _state() -> dict[str, list[str]]:
    if STATE.exists():
        loaded: dict[str, list[str]] = json.loads(STATE.read_text())
        return loaded
    return {"enabled": [], "active": [], "users": []}


def _save(state: dict[str, list[str]]) -> None:
    STATE.write_text(json.dumps(state))


def _bucket_dir(uri: str) -> Path:
    """s3://b/k -> <store>/s3/b/k; gs://b/k -> <store>/gs/b/k (shared by sandboxed machines)."""
    scheme, rest = uri.split("://", 1)
    return STORE / scheme / rest.rstrip("/")


def _local_or_bucket(path: str) -> Path:
    return _bucket_dir(path) if "://" in path else Path(path.rstrip("/"))


def _sync(src: str, dst: str) -> int:
    source = _local_or_bucket(src)
    if not source.is_dir():
        return 1
    shutil.copytree(source, _local_or_bucket(dst), dirs_exist_ok=True)
    return 0


def _manifest(model: str) -> Path:
    name, _, tag = model.partition(":")
    return MODELS / "manifests" / "registry.ollama.ai" / "library" / name / (tag or "latest")


def systemctl(args: list[str]) -> int:
    state = _state()
    verb = args[0]
    unit = args[-1]
    if verb in ("is-enabled", "is-active"):
        return 0 if unit in state["enabled" if verb == "is-enabled" else "active"] else 1
    if verb == "enable" and unit not in state["enabled"]:
        state["enabled"].append(unit)
    if verb in ("start", "restart") and unit not in state["active"]:
        state["active"].append(unit)
    _save(state)
    return 0


def curl(args: list[str]) -> int:
    url = args[-1]
    if url.endswith("/api/tags"):
        # The "server" answers once systemd started it.
        return 0 if "ollama.service" in _state()["active"] else 7
    target = Path(args[args.index("-o") + 1])
    shutil.copyfile(os.environ["BOOT_ARCHIVE"], target)
    return 0


def ollama(args: list[str]) -> int:
    verb, model = args[0], args[1]
    manifest = _manifest(model)
    if verb == "show":
        return 0 if manifest.exists() else 1
    if verb == "pull":
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"model": model}))
        blobs = MODELS / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        (blobs / "sha256-0123").write_text("weights")
        return 0
    return 2


def aws(args: list[str]) -> int:
    opts = [a for a in args if not a.startswith("--")]
    if opts[:2] == ["s3", "ls"]:
        return 0 if _bucket_dir(opts[2]).exists() else 1
    if opts[:2] == ["s3", "sync"]:
        return _sync(opts[2], opts[3])
    if opts[:2] == ["s3", "cp"] and opts[2] == "-":
        target = _bucket_dir(opts[3])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(sys.stdin.read())
        return 0
    return 2


def gcloud(args: list[str]) -> int:
    opts = [a for a in args if not a.startswith("--")]
    if opts[:2] == ["storage", "ls"]:
        return 0 if _bucket_dir(opts[2]).exists() else 1
    if opts[:2] == ["storage", "rsync"]:
        return _sync(opts[2], opts[3])
    if opts[:2] == ["storage", "cp"] and opts[2] == "-":
        target = _bucket_dir(opts[3])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(sys.stdin.read())
        return 0
    return 2


def gsutil(args: list[str]) -> int:
    opts = [a for a in args if a not in ("-q", "-m", "-r")]
    if opts[0] == "stat":
        return 0 if _bucket_dir(opts[1]).exists() else 1
    if opts[0] == "rsync":
        return _sync(opts[1], opts[2])
    return gcloud(["storage", *opts]) if opts[:2] == ["cp", "-"] else 2


def getent(args: list[str]) -> int:
    return 0 if args[-1] in _state()["users"] else 2


def useradd(args: list[str]) -> int:
    state = _state()
    state["users"].append(args[-1])
    _save(state)
    return 0


def nvidia_smi(args: list[str]) -> int:
    print("GPU 0: NVIDIA L4 (UUID: GPU-00000000-0000-0000-0000-000000000000)")
    return 0


def passthrough(name: str, args: list[str]) -> int:
    """Run the real tool (its path in BOOT_REAL_<NAME>) after recording the call."""
    real = os.environ[f"BOOT_REAL_{name.upper()}"]
    os.execv(real, [real, *args])  # noqa: S606 - the test's own absolute path, no shell


HANDLERS = {
    "systemctl": systemctl, "curl": curl, "ollama": ollama, "aws": aws, "gcloud": gcloud,
    "gsutil": gsutil, "getent": getent, "useradd": useradd, "nvidia-smi": nvidia_smi,
    "chown": lambda args: 0, "amazon-cloudwatch-agent-ctl": lambda args: 0,
}


def main(argv: list[str]) -> int:
    """Record ``argv`` and act out the command it names."""
    name, args = argv[0], argv[1:]
    with (SANDBOX / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps([name, *args]) + "\n")
    if name in ("sha256sum", "tar"):
        return passthrough(name, args)
    return HANDLERS[name](args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
