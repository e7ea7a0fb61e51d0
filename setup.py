"""Build hook: ship the Terraform modules and stacks inside the package.

``deploy/terraform`` (the one copy the repository keeps) is copied to ``flowllama/terraform`` in
every built wheel, so a pip-installed FlowLlama finds its stacks
(``flowllama.providers.terraform.bundled.terraform_dir``); an editable install reads the
repository's directory directly. Everything else is declared in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TERRAFORM_SOURCE = Path(__file__).parent / "deploy" / "terraform"
# Terraform's working files and anything a local run left behind never ship.
IGNORED = shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", "*.tfplan",
                                 ".terraform.lock.hcl", "crash.log", "__pycache__")


class BuildPyWithTerraform(build_py):
    """``build_py`` plus the copy of ``deploy/terraform`` into ``flowllama/terraform``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not TERRAFORM_SOURCE.is_dir():
            return
        target = Path(self.build_lib) / "flowllama" / "terraform"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(TERRAFORM_SOURCE, target, ignore=IGNORED)


setup(cmdclass={"build_py": BuildPyWithTerraform})
