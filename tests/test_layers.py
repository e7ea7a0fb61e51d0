"""Lower layers never import higher ones (docs/architecture.md, "Layers"): the domain layer
(statuses, the state machine, request bodies) knows nothing of the packages that use it, and no
package below the agent reaches up into it. Checked on every module's imports (ast), those
inside functions and ``TYPE_CHECKING`` blocks included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "flowllama"

# (the lower packages, the higher packages none of them may import)
RULES = (
    (("domain",), ("agent", "services", "gateway", "monitor", "api", "autopilot")),
    (("services", "gateway", "monitor", "autopilot", "metrics"), ("agent",)),
)


def imported_modules(source: str) -> set[str]:
    """Every ``flowllama...`` module name that ``source`` imports, in any form
    (``import a.b``, ``from a.b import c``, ``from a import b`` gives ``a.b`` too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == "flowllama"}


def violations(lower: tuple[str, ...], higher: tuple[str, ...]) -> list[str]:
    """``path: module`` for each import of a ``higher`` package from a ``lower`` one."""
    found = []
    for package in lower:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            for name in sorted(imported_modules(path.read_text())):
                parts = name.split(".")
                if len(parts) > 1 and parts[1] in higher:
                    found.append(f"{path.relative_to(PACKAGE)}: {name}")
    return found


@pytest.mark.parametrize(("lower", "higher"), RULES, ids=["domain", "below-agent"])
def test_lower_layers_import_no_higher_one(lower: tuple[str, ...],
                                           higher: tuple[str, ...]) -> None:
    assert all((PACKAGE / package).is_dir() for package in lower)
    assert violations(lower, higher) == []


def test_the_check_sees_every_form_of_import() -> None:
    source = ("import flowllama.agent.worker\n"
              "from flowllama.agent.nudges import nudge\n"
              "from flowllama import agent\n"
              "def late():\n    from flowllama.services import users\n"
              "import os\nfrom . import sibling\n")
    assert imported_modules(source) == {
        "flowllama.agent.worker", "flowllama.agent.nudges", "flowllama.agent.nudges.nudge",
        "flowllama", "flowllama.agent", "flowllama.services", "flowllama.services.users"}
