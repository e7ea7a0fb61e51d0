"""Finds the Terraform modules, their examples and the stacks under ``deploy/terraform``, and
which providers each needs, so the checks apply to whatever code lands there.

Layout (docs/terraform-checks.md): ``modules/<name>/`` with ``examples/<example>/``, and
``stacks/<name>/``. The ``test`` stack (the engine's own ``terraform_data`` fixture) is exempt
from the module conventions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flowllama.devtools.hcl_files import labelled_blocks, literal, load_hcl, tf_files

Kind = Literal["module", "example", "stack"]
REPO_ROOT = Path(__file__).resolve().parents[3]
TERRAFORM_DIR = REPO_ROOT / "deploy" / "terraform"
EXEMPT_STACKS = {"test": "the engine's own terraform_data fixture for tests/providers/terraform"}
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
REQUIRED_EXAMPLES = ("basic", "advanced")
MIRRORED_PROVIDERS = frozenset({"aws", "null"})  # what terraform_mirror serves
BUILTIN_PROVIDERS = frozenset({"terraform"})


@dataclass(frozen=True)
class TerraformRoot:
    """One directory the checks look at."""

    path: Path
    kind: Kind

    @property
    def name(self) -> str:
        """A short id for test names: ``aws-vpc``, ``aws-vpc/examples/basic``, ``stacks/x``."""
        base = self.path.relative_to(TERRAFORM_DIR)
        return str(base.relative_to("modules")) if self.kind != "stack" else str(base)

    @property
    def module_dir(self) -> Path:
        """The directory to copy so relative module sources keep working."""
        return self.path.parents[1] if self.kind == "example" else self.path


def modules(root: Path = TERRAFORM_DIR) -> list[TerraformRoot]:
    """Every ``modules/<name>`` directory."""
    base = root / "modules"
    return [TerraformRoot(p, "module") for p in sorted(base.iterdir()) if p.is_dir()] if (
        base.is_dir()) else []


def examples(root: Path = TERRAFORM_DIR) -> list[TerraformRoot]:
    """Every ``modules/<name>/examples/<example>`` directory."""
    return [TerraformRoot(p, "example") for m in modules(root)
            for p in sorted((m.path / "examples").glob("*")) if p.is_dir()]


def stacks(root: Path = TERRAFORM_DIR, *, exempt: bool = False) -> list[TerraformRoot]:
    """Every ``stacks/<name>`` directory; the exempt ones only when ``exempt``."""
    base = root / "stacks"
    if not base.is_dir():
        return []
    return [TerraformRoot(p, "stack") for p in sorted(base.iterdir())
            if p.is_dir() and (exempt or p.name not in EXEMPT_STACKS)]


def providers_needed(directory: Path, _seen: frozenset[Path] = frozenset()) -> set[str]:
    """Local names of the providers a root needs, through its local module calls: from
    ``required_providers``, ``provider`` blocks and resource/data type prefixes."""
    directory = directory.resolve()
    if directory in _seen:
        return set()
    needed: set[str] = set()
    for path in tf_files(directory):
        parsed = load_hcl(path)
        needed |= _declared(parsed)
        for kind in ("resource", "data"):
            needed |= {t.split("_", 1)[0] for (t, _n), _b in labelled_blocks(parsed, kind, 2)}
        for (_name,), body in labelled_blocks(parsed, "module", 1):
            source = literal(body.get("source", ""))
            if isinstance(source, str) and source.startswith(("./", "../")):
                needed |= providers_needed(directory / source, _seen | {directory})
    return needed - BUILTIN_PROVIDERS


def _declared(parsed: dict[str, Any]) -> set[str]:
    names = {name for (name,), _body in labelled_blocks(parsed, "provider", 1)}
    for terraform in parsed.get("terraform", []):
        for block in terraform.get("required_providers", []):
            names |= {k for k in block if not k.startswith("__")}
    return names


def runnable_offline(directory: Path) -> tuple[bool, set[str]]:
    """Whether ``terraform init`` can work here from the mirror, and the providers missing."""
    missing = providers_needed(directory) - MIRRORED_PROVIDERS
    return not missing, missing


def required_versions(directory: Path) -> tuple[str | None, dict[str, str | None]]:
    """From ``versions.tf``: ``required_version`` and each required provider's version
    constraint (None where absent)."""
    path = directory / "versions.tf"
    if not path.exists():
        return None, {}
    parsed = load_hcl(path)
    version: str | None = None
    providers: dict[str, str | None] = {}
    for terraform in parsed.get("terraform", []):
        version = literal(terraform.get("required_version", version))
        for block in terraform.get("required_providers", []):
            for name, spec in block.items():
                if not name.startswith("__"):
                    value = literal(spec)
                    providers[name] = value.get("version") if isinstance(value, dict) else None
    return version, providers


def has_files(directory: Path) -> bool:
    """Whether a directory holds any ``.tf`` file."""
    return bool(tf_files(directory))
