"""Every module, example and stack against the CURRENT provider schemas (hashicorp/aws and
hashicorp/google from the cdktf npm packages): resource and data types exist, every argument
and nested block exists, required ones are present, local module calls match the module's
variables. This is the only check of GCP code against its provider here."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowllama.devtools.provider_schema import Provider, ProviderSchema
from flowllama.devtools.schema_check import check_directory
from flowllama.devtools.terraform_layout import TerraformRoot, examples, modules, stacks

ROOTS = modules() + examples() + stacks()


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r.name)
def test_code_matches_the_current_provider_schema(
        root: TerraformRoot, schemas: Callable[[Provider], ProviderSchema]) -> None:
    findings = check_directory(root.path, schemas)
    assert not findings, "\n".join(str(f) for f in findings)
