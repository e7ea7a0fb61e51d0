from __future__ import annotations

from pathlib import Path

from flowllama.devtools.terraform_layout import (
    TERRAFORM_DIR,
    examples,
    modules,
    providers_needed,
    required_versions,
    runnable_offline,
    stacks,
)

VERSIONS = '''
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39, < 7.0"
    }
  }
}
'''


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _tree(tmp_path: Path) -> Path:
    _write(tmp_path / "modules/aws-x/versions.tf", VERSIONS)
    _write(tmp_path / "modules/aws-x/examples/basic/main.tf",
           'provider "aws" {\n  region = "us-east-1"\n}\n'
           'module "x" {\n  source = "../.."\n}\n')
    _write(tmp_path / "modules/boot/main.tf", 'locals {\n  a = 1\n}\n')
    _write(tmp_path / "modules/gcp-x/main.tf",
           'resource "google_compute_network" "n" {\n  name = "n"\n}\n')
    _write(tmp_path / "stacks/gcp-s/main.tf",
           'module "net" {\n  source = "../../modules/gcp-x"\n}\n'
           'module "boot" {\n  source = "../../modules/boot"\n}\n')
    _write(tmp_path / "stacks/test/main.tf", 'resource "terraform_data" "t" {}\n')
    return tmp_path


def test_discovery_finds_modules_examples_and_stacks(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert [m.path.name for m in modules(tree)] == ["aws-x", "boot", "gcp-x"]
    assert [e.path for e in examples(tree)] == [tree / "modules/aws-x/examples/basic"]
    assert [s.path.name for s in stacks(tree)] == ["gcp-s"]
    assert [s.path.name for s in stacks(tree, exempt=True)] == ["gcp-s", "test"]


def test_providers_are_followed_through_local_module_calls(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert providers_needed(tree / "modules/aws-x/examples/basic") == {"aws"}
    assert providers_needed(tree / "modules/boot") == set()
    assert providers_needed(tree / "stacks/gcp-s") == {"google"}
    assert runnable_offline(tree / "modules/aws-x") == (True, set())
    assert runnable_offline(tree / "stacks/gcp-s") == (False, {"google"})
    assert runnable_offline(tree / "stacks/test") == (True, set())


def test_required_versions_are_read(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert required_versions(tree / "modules/aws-x") == (">= 1.5.0", {"aws": ">= 3.39, < 7.0"})
    assert required_versions(tree / "modules/boot") == (None, {})


def test_names_are_relative_to_the_real_tree() -> None:
    assert TERRAFORM_DIR.name == "terraform" and (TERRAFORM_DIR / "stacks" / "test").is_dir()
    assert [s.name for s in stacks(exempt=True) if s.path.name == "test"] == ["stacks/test"]
