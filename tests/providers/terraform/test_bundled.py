"""The Terraform stacks and modules ship inside the package: a built wheel carries
``flowllama/terraform`` (without Terraform's working files), and a checkout finds
``deploy/terraform``."""

from __future__ import annotations

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


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path
