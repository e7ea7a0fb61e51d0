"""Recording stand-ins for the commands the Ollama boot script runs, used by test_ollama_boot.py.

Usage: ``python boot_standins.py <command> <args...>``, called by the small wrappers the test puts
on PATH (``systemctl``, ``curl``, ``aws``, ``gcloud``, ``gsutil``, ``ollama``, ``nvidia-smi``,
``getent``, ``useradd``, ``chown``, the CloudWatch agent's ctl, ``dpkg``, ``gpg``, Google's Ops
Agent repository script, and recording pass-throughs to the real ``sha256sum`` and ``tar``).
Every call is appended to ``$BOOT_SANDBOX/calls.jsonl``.

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
    # Ollama keeps manifests/<registry host>/<namespace>/<name>/<tag>; any host name serves here.
    return MODELS / "manifests" / "registry" / "library" / name / (tag or "latest")


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


# AWS's documented CloudWatch agent signing key (the boot script checks signatures against it).
AWS_CWA_KEY = "937616F3450B7D806CBD9725D58167303B789C72"
OPS_AGENT_REPO_SCRIPT = "add-google-cloud-ops-agent-repo.sh"


def curl(args: list[str]) -> int:
    url = args[-1]
    if url.endswith("/api/tags"):
        # The "server" answers once systemd started it, unless the test keeps it silent.
        answers = "ollama.service" in _state()["active"] and not os.environ.get("BOOT_NO_ANSWER")
        return 0 if answers else 7
    target = Path(args[args.index("-o") + 1])
    if url.endswith(OPS_AGENT_REPO_SCRIPT):
        # Google's repository script, acted out by the "google-ops-agent-repo" stand-in.
        target.write_text(_wrapper("google-ops-agent-repo"))
    elif url.startswith("https://amazoncloudwatch-agent."):
        target.write_text(f"stand-in of {url}\n")
    else:
        shutil.copyfile(os.environ["BOOT_ARCHIVE"], target)
    return 0


def _wrapper(name: str) -> str:
    """A shell script that runs this stand-in as ``name``."""
    return f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" {name} "$@"\n'


def _agent_installed(path: Path) -> None:
    """What installing a log agent leaves on the sandboxed disk: its (recording) command."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_wrapper(path.name))
    path.chmod(0o755)


def dpkg(args: list[str]) -> int:
    if args == ["--print-architecture"]:
        print("amd64")
        return 0
    if args[0] == "-i":
        _agent_installed(ROOT / "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl")
        return 0
    return 2


def gpg(args: list[str]) -> int:
    """--import accepts; --verify reports a good signature by BOOT_GPG_SIGNER (default: AWS's
    CloudWatch agent key) in gpg's --status-fd format."""
    if "--import" in args:
        return 0
    if "--verify" in args:
        signer = os.environ.get("BOOT_GPG_SIGNER", AWS_CWA_KEY)
        print(f"[GNUPG:] GOODSIG {signer[-16:]} Amazon CloudWatch Agent")
        print(f"[GNUPG:] VALIDSIG {signer} 2025-01-01 1735689600 0 4 0 1 8 00 {signer}")
        return 0
    return 2


def google_ops_agent_repo(args: list[str]) -> int:
    """Google's repository script with --also-install: the agent's config directory appears."""
    if "--also-install" in args:
        (ROOT / "etc/google-cloud-ops-agent").mkdir(parents=True, exist_ok=True)
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
    os.execv(real, [real, *args])


HANDLERS = {
    "systemctl": systemctl, "curl": curl, "ollama": ollama, "aws": aws, "gcloud": gcloud,
    "gsutil": gsutil, "getent": getent, "useradd": useradd, "nvidia-smi": nvidia_smi,
    "chown": lambda args: 0, "amazon-cloudwatch-agent-ctl": lambda args: 0, "dpkg": dpkg,
    "gpg": gpg, "google-ops-agent-repo": google_ops_agent_repo,
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
