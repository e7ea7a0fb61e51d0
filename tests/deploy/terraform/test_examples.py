"""Every example plans for real: AWS examples against a moto server (a generated
``moto_override.tf`` in a temporary copy points the provider there), provider-free ones as
they are. GCP examples cannot be planned here (no google provider binary offline): their test
passes with a note in the summary, and the schema check and checkov cover them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from flowllama.devtools.moto_override import write_moto_override
from flowllama.devtools.terraform_layout import (
    TerraformRoot,
    examples,
    providers_needed,
    runnable_offline,
)

if TYPE_CHECKING:
    from ..conftest import MotoServer, Terraform


@pytest.mark.parametrize("example", examples(), ids=lambda r: r.name)
def test_example_plans(example: TerraformRoot, terraform: Terraform,
                       copy_tree: Callable[[Path], Path], request: pytest.FixtureRequest,
                       note_not_run: Callable[[str], None]) -> None:
    ok, missing = runnable_offline(example.path)
    if not ok:
        note_not_run(f"{example.name}: terraform plan not run: needs provider(s) "
                     f"{sorted(missing)}, which have no binary offline")
        return
    module_copy = copy_tree(example.module_dir)
    directory = module_copy / example.path.relative_to(example.module_dir)
    if "aws" in providers_needed(example.path):
        moto: MotoServer = request.getfixturevalue("moto_server")
        write_moto_override(directory, moto.url)
    result = terraform.init(directory)
    assert result is not None and result.returncode == 0, terraform.explain(result)
    result = terraform.run(directory, "plan", "-input=false", "-lock=false")
    assert result.returncode == 0, terraform.explain(result)
    assert "Error:" not in result.stderr, terraform.explain(result)
