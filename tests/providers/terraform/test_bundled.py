"""The Terraform stacks and modules ship inside the package: a built wheel carries
``flowllama/terraform`` (without Terraform's working files), and a checkout finds
``deploy/terraform``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from flowllama.providers.terraform.bundled import CHECKOUT, stack_dir, terraform_dir

REPO = Path(__file__).resolve().parents[3]


def test_a_checkout_reads_deploy_terraform() -> None:
    assert terraform_dir() == CHECKOUT == REPO / "deploy" / "terraform"
    assert (stack_dir("aws-ollama") / "main.tf").is_file()


@pytest.mark.slow
def test_the_wheel_carries_every_stack_and_module(tmp_path: Path) -> None:
    # Build from a copy so the checkout gets no build/ directory; junk proves the filter.
    source = tmp_path / "src"
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / name, source / name if source.exists() else _mkdir(source) / name)
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(REPO / "deploy", source / "deploy",
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    junk = source / "deploy" / "terraform" / "stacks" / "aws-ollama"
    (junk / ".terraform").mkdir()
    (junk / ".terraform" / "providers.bin").write_text("x")
    (junk / "terraform.tfstate").write_text("{}")

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(tmp_path / "dist"), str(source)], check=True)
    wheel = next((tmp_path / "dist").glob("flowllama-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())

    expected = {
        f"flowllama/terraform/{path.relative_to(REPO / 'deploy' / 'terraform')}"
        for path in (REPO / "deploy" / "terraform").rglob("*")
        if path.is_file() and ".terraform" not in path.parts and "tfstate" not in path.name
    }
    assert "flowllama/terraform/stacks/aws-ollama/main.tf" in expected
    assert expected <= names
    assert not any(".terraform/" in name or name.endswith(".tfstate") for name in names)
    _assert_installed_wheel_finds_its_stacks(wheel, tmp_path / "site")


def _assert_installed_wheel_finds_its_stacks(wheel: Path, site: Path) -> None:
    """Install the wheel alone into a directory (its dependencies come from this interpreter)
    and ask the installed package where its Terraform files are."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    "--target", str(site), str(wheel)], check=True)
    probe = ("import json, flowllama\n"
             "from flowllama.providers.terraform.bundled import stack_dir, terraform_dir\n"
             "print(json.dumps([flowllama.__file__, str(terraform_dir()),"
             " str(stack_dir('aws-ollama'))]))")
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=site, env=env, check=True,
                            capture_output=True, text=True)
    package, found, aws_ollama = (Path(p) for p in json.loads(result.stdout))
    assert package.parent == site / "flowllama", "the probe must import the installed copy"
    assert found == site / "flowllama" / "terraform"
    assert (aws_ollama / "main.tf").is_file() and aws_ollama.is_relative_to(site)
    assert (found / "modules" / "ollama-boot" / "templates" / "boot.sh").is_file()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path
