"""The module conventions (docs/terraform-checks.md), for every module and stack found under
deploy/terraform: the files each needs, typed and described variables, described outputs,
version ranges, no provider blocks in modules, README tables in sync with the code."""

from __future__ import annotations

import re

import pytest

from flowllama.devtools.hcl_files import labelled_blocks, literal, load_hcl, tf_files
from flowllama.devtools.terraform_docs import readme_diff
from flowllama.devtools.terraform_layout import (
    MODULE_FILES,
    REQUIRED_EXAMPLES,
    TerraformRoot,
    has_files,
    modules,
    required_versions,
    stacks,
)

MODULES = modules()
ROOTS = MODULES + stacks()
# A range has a lower and an upper bound: "~> 5.0", or ">= 3.39, < 7.0".
_LOWER = re.compile(r"(>=|>|~>)\s*\d")
_UPPER = re.compile(r"(<=|<|~>)\s*\d")


def by_name(root: TerraformRoot) -> str:
    return root.name


@pytest.mark.parametrize("root", ROOTS, ids=by_name)
def test_has_the_standard_files(root: TerraformRoot) -> None:
    missing = [name for name in MODULE_FILES if not (root.path / name).is_file()]
    if root.kind == "module":
        missing += [f"examples/{ex}/*.tf" for ex in REQUIRED_EXAMPLES
                    if not has_files(root.path / "examples" / ex)]
    assert not missing, f"{root.path} lacks {missing}"


@pytest.mark.parametrize("root", ROOTS, ids=by_name)
def test_every_variable_is_typed_and_described(root: TerraformRoot) -> None:
    problems = []
    for path in tf_files(root.path):
        for (name,), body in labelled_blocks(load_hcl(path), "variable", 1):
            if "type" not in body:
                problems.append(f"{path.name}: variable {name!r} has no type")
            if not str(literal(body.get("description", ""))).strip():
                problems.append(f"{path.name}: variable {name!r} has no description")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("root", ROOTS, ids=by_name)
def test_every_output_is_described(root: TerraformRoot) -> None:
    problems = [f"{path.name}: output {name!r} has no description"
                for path in tf_files(root.path)
                for (name,), body in labelled_blocks(load_hcl(path), "output", 1)
                if not str(literal(body.get("description", ""))).strip()]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("root", ROOTS, ids=by_name)
def test_versions_pin_terraform_and_provider_ranges(root: TerraformRoot) -> None:
    required, providers = required_versions(root.path)
    problems = []
    if not required or not _LOWER.search(required):
        problems.append(f"required_version is {required!r}, expected a lower bound (>= 1.5.0)")
    for name, constraint in providers.items():
        if not constraint or not (_LOWER.search(constraint) and _UPPER.search(constraint)):
            problems.append(f"provider {name!r}: version {constraint!r} is not a range "
                            "(e.g. \">= 3.39, < 7.0\")")
    assert not problems, f"{root.path / 'versions.tf'}:\n" + "\n".join(problems)


@pytest.mark.parametrize("root", MODULES, ids=by_name)
def test_modules_declare_no_provider_blocks(root: TerraformRoot) -> None:
    found = [f"{path.name}: provider {name!r}" for path in tf_files(root.path)
             for (name,), _body in labelled_blocks(load_hcl(path), "provider", 1)]
    assert not found, f"provider blocks belong in examples and stacks, not {root.path}: {found}"


@pytest.mark.parametrize("root", ROOTS, ids=by_name)
def test_readme_tables_match_the_code(root: TerraformRoot) -> None:
    assert (root.path / "README.md").is_file(), f"{root.path} has no README.md"
    diff = readme_diff(root.path)
    assert not diff, (f"README tables are out of date; run python3 -m "
                      f"flowllama.devtools.terraform_docs --write {root.path}\n{diff}")
