"""``terraform fmt -check`` (the real engine) is clean for every module, example and stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.devtools.terraform_layout import TerraformRoot, modules, stacks
from flowllama.providers.terraform.engine import Engine, engine_env, run_engine

ROOTS = modules() + stacks(exempt=True)


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r.name)
def test_fmt_check_is_clean(root: TerraformRoot, engine: Engine) -> None:
    # -recursive covers a module's examples/ and tests/ (*.tftest.hcl) too.
    result = run_engine(engine, ["fmt", "-check", "-recursive", "-diff", "-no-color"],
                        cwd=Path(root.path), env=engine_env(), timeout_s=120)
    assert result.returncode == 0, (f"terraform fmt -recursive {root.path} would change:\n"
                                    f"{result.stdout}{result.stderr}")
