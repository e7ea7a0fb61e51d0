"""``terraform init`` from the offline mirror + ``terraform validate`` for every module,
example and stack whose providers the mirror has (aws 3.39.0, null), and ``terraform test``
for modules with tests/*.tftest.hcl. Code that needs another provider (google) cannot be
initialised here: its test passes with a note in the summary saying so, and the schema check
and checkov are what cover it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from flowllama.devtools.terraform_layout import (
    TERRAFORM_DIR,
    TerraformRoot,
    examples,
    modules,
    runnable_offline,
    stacks,
)

if TYPE_CHECKING:
    from ..conftest import Terraform

ROOTS = modules() + examples() + stacks()
TESTED = [m for m in modules() if list((m.path / "tests").glob("*.tftest.hcl"))]


def initialised(root: TerraformRoot, terraform: Terraform, tree: Path,
                note: Callable[[str], None], what: str) -> Path | None:
    """The root's directory in the session copy, initialised; None (noted) when its
    providers are not in the offline mirror."""
    ok, missing = runnable_offline(root.path)
    if not ok:
        note(f"{root.name}: {what} not run: needs provider(s) {sorted(missing)}, which have "
             "no binary offline (covered by fmt, the schema check and checkov only)")
        return None
    directory = tree / root.path.relative_to(TERRAFORM_DIR)
    result = terraform.init(directory, backend=root.kind != "stack")
    assert result is None or result.returncode == 0, terraform.explain(result)
    return directory


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r.name)
def test_init_and_validate(root: TerraformRoot, terraform: Terraform, terraform_tree: Path,
                           note_not_run: Callable[[str], None]) -> None:
    directory = initialised(root, terraform, terraform_tree, note_not_run,
                            "terraform init/validate")
    if directory is None:
        return
    result = terraform.run(directory, "validate")
    assert result.returncode == 0, terraform.explain(result)


@pytest.mark.parametrize("root", TESTED, ids=lambda r: r.name)
def test_terraform_test_files_pass(root: TerraformRoot, terraform: Terraform,
                                   terraform_tree: Path,
                                   note_not_run: Callable[[str], None]) -> None:
    directory = initialised(root, terraform, terraform_tree, note_not_run, "terraform test")
    if directory is None:
        return
    result = terraform.run(directory, "test", timeout_s=600)
    assert result.returncode == 0, terraform.explain(result)
