"""requirements/ci.txt (the hash-locked install CI runs first) pins every dependency that
pyproject.toml names, the dev extras included, at a version the declared range accepts; the
image's runtime-only locks (requirements/runtime*.txt) pin exactly what the runtime needs, at
CI's versions and hashes; requirements/build.txt pins pyproject's build backend with hashes;
pyproject declares the floors the code relies on; `.ci/run` runs the suite with CI=true
(missing tools fail instead of skipping)."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^ \\]+)", re.MULTILINE)
# The image's locks and the extras of pyproject.toml each one adds to the dependencies.
IMAGE_LOCKS = {"runtime.txt": (), "runtime-llamacpp.txt": ("llamacpp",)}


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


def _project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _locked(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """A lock's pins: canonical name -> (version, its sha256 hashes)."""
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "requirements" / name).read_text()):
        if match := PIN.match(block):
            pins[canonicalize_name(match.group(1))] = (
                match.group(2), frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
    return pins


def _runtime_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    project = _project()
    optional: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    names: list[str] = [*project["dependencies"]]  # type: ignore[misc]
    names += [name for extra in extras for name in optional[extra]]
    return [Requirement(name) for name in names]


def _closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution ``requirements`` need here (Linux, this Python), from the installed
    distributions' metadata, extras followed."""
    extras: dict[str, set[str]] = {}
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in extras and set(requirement.extras) <= extras[name]:
            continue
        wanted = extras.setdefault(name, set())
        wanted |= requirement.extras
        for text in metadata.requires(requirement.name) or []:
            needed = Requirement(text)
            if needed.marker is None or any(needed.marker.evaluate({"extra": extra})
                                            for extra in (*wanted, "")):
                todo.append(needed)
    return set(extras)


@pytest.mark.parametrize("lock", IMAGE_LOCKS)
def test_image_locks_hold_the_runtime_closure_at_cis_versions_and_hashes(lock: str) -> None:
    image, ci = _locked(lock), _locked("ci.txt")
    assert image and all(hashes for _version, hashes in image.values())
    # The image runs exactly what CI installed and tested, byte for byte.
    assert {name: pin for name, pin in image.items() if ci.get(name) != pin} == {}
    requirements = _runtime_requirements(IMAGE_LOCKS[lock])
    outside = [str(r) for r in requirements if canonicalize_name(r.name) not in image
               or not r.specifier.contains(image[canonicalize_name(r.name)][0], True)]
    assert outside == [], f"regenerate requirements/{lock} (command in its header)"
    installed = {name: metadata.version(name) for name in image}
    if differing := {name for name, (version, _h) in image.items() if installed[name] != version}:
        reason = f"installed versions differ from the lock ({sorted(differing)[:5]})"
        if os.environ.get("CI"):
            pytest.fail(f"required under CI: {reason}")
        pytest.skip(reason + ": install requirements/ci.txt to compare the closure")
    # Complete (pip wheel --no-deps resolves nothing) and runtime-only (no dev tools).
    assert set(image) == _closure(requirements)


def test_the_build_lock_pins_the_build_backend_with_hashes_in_range() -> None:
    """The project's wheel is built without build isolation from requirements/build.txt
    (deploy/docker/README.md), so it must hold every [build-system] requirement, hashed, at a
    version the requirement accepts."""
    build = _locked("build.txt")
    assert build and all(hashes for _version, hashes in build.values())
    requires = [Requirement(text) for text in
                tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]]
    outside = [str(r) for r in requires if canonicalize_name(r.name) not in build
               or not r.specifier.contains(build[canonicalize_name(r.name)][0], True)]
    assert outside == [], "regenerate requirements/build.txt (command in its header)"


def test_pyproject_declares_the_floors_the_code_relies_on() -> None:
    declared = {str(canonicalize_name(r.name)): r.specifier for r in _runtime_requirements(())}
    # Depends(scope="function") (api/deps.py) arrived in FastAPI 0.121.
    fastapi = declared["fastapi"]
    assert not fastapi.contains("0.120.9") and fastapi.contains("0.121.0")
    assert any(spec.operator == ">=" for spec in fastapi)
    # Used directly (ASGI types; the gateway's upstream parser), so declared, not inherited.
    assert {"starlette", "httptools"} <= set(declared)


def test_ci_entry_point_exports_ci_true() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    exported = re.search(r"^export CI=true$", script, re.MULTILINE)
    assert exported is not None
    # Before anything that runs the suite.
    assert exported.start() < script.index("python3 -m pytest")
