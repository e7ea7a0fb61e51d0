"""requirements/ci.txt (the hash-locked install CI runs first) pins every dependency that
pyproject.toml names, the dev extras included, at a version the declared range accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^ \\]+)", re.MULTILINE)


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        names += [name for name in extra if not name.startswith("flowllama[")]
    return [Requirement(name) for name in names]


def test_every_declared_dependency_is_pinned_with_hashes_in_range() -> None:
    text = (ROOT / "requirements" / "ci.txt").read_text()
    pins = {canonicalize_name(name): version for name, version in PIN.findall(text)}
    assert text.count("--hash=sha256:") >= len(pins)
    missing = [str(r) for r in _declared() if canonicalize_name(r.name) not in pins]
    assert missing == [], "regenerate requirements/ci.txt (command in its header)"
    outside = [f"{r} (locked {pins[canonicalize_name(r.name)]})" for r in _declared()
               if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)]
    assert outside == []
