"""checkov (its own venv in the tools cache, run once over deploy/terraform with
``--framework terraform``) finds nothing in any module or stack, except checks skipped with a
justification next to them (``#checkov:skip=CKV_AWS_XXX: reason`` in the resource)."""

from __future__ import annotations

import pytest

from flowllama.devtools.checkov_scan import CheckResult
from flowllama.devtools.terraform_layout import TerraformRoot, modules, stacks

ROOTS = modules() + stacks()


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r.name)
def test_checkov_is_clean_or_every_skip_is_justified(
        root: TerraformRoot, checkov_results: list[CheckResult]) -> None:
    mine = [r for r in checkov_results if r.file.resolve().is_relative_to(root.path.resolve())]
    problems = sorted({str(r) for r in mine if not r.justified})
    assert not problems, "\n".join(problems)
