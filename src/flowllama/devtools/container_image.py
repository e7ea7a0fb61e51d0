"""Build deploy/docker/Dockerfile for real with podman, offline, for the tests and bench/.

No image registry is reachable here, so the ``FROM`` base is made from Debian packages with
mmdebstrap (the machine's own apt sources read from stdin; no mirror is named here) and
imported under the exact name the Dockerfile uses. A build sees none of the machine's pip
settings, so the wheels are built on the host (``pip wheel``) and the image installs them with
``--no-index``. The base tarball and the dependency wheels live in the tools cache; only the
project's own wheel is rebuilt each time.

podman runs with the ``runc`` runtime and a containers.conf without default ulimits: the
default runtime's setrlimit calls fail in this kind of sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from flowllama.devtools.tools_cache import (
    ToolUnavailable,
    cached_directory,
    run_tool,
    tools_cache_dir,
)

BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"  # the Dockerfile's PYTHON_IMAGE
BASE_SUITE = "bookworm"
# python3-venv brings ensurepip's wheels (the official image has venv built in).
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
TOOLS = ("podman", "runc", "mmdebstrap")
CONTAINERS_CONF = "[containers]\ndefault_ulimits = []\n"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a requirement's distribution name


@dataclass(frozen=True)
class Podman:
    """podman with the runtime and configuration that work here."""

    conf: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def argv(self, *args: str) -> list[str]:
        return ["podman", "--runtime", "runc", *args]

    def run(self, *args: str, what: str, timeout_s: float = 900) -> str:
        """Run a podman command; its stdout, or :class:`ToolUnavailable` with the output."""
        return run_tool(self.argv(*args), what, env=self.env, timeout_s=timeout_s).stdout


def missing_tools() -> list[str]:
    """The tools a real image build needs that are not on PATH (empty when all are)."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def podman(cache_dir: Path | None = None) -> Podman:
    """podman configured through a containers.conf kept in the tools cache."""
    entry = cached_directory("podman-conf", _write_conf, cache_dir)
    return Podman(entry / "containers.conf")


def _write_conf(work: Path, _final: Path) -> None:
    (work / "containers.conf").write_text(CONTAINERS_CONF)


def apt_sources() -> Path:
    """The machine's own Debian apt sources (deb822 or one-line), for mmdebstrap's stdin."""
    for path in APT_SOURCES:
        if path.is_file() and path.read_text().strip():
            return path
    raise ToolUnavailable(f"no apt sources to build the base from (looked at "
                          f"{', '.join(map(str, APT_SOURCES))})")


def base_tarball(cache_dir: Path | None = None) -> Path:
    """A minbase Debian root with Python 3.11, as a tarball (built once, ~1 min)."""
    key = hashlib.sha256(" ".join((BASE_SUITE, *BASE_PACKAGES)).encode()).hexdigest()[:12]
    entry = cached_directory(f"image-base-{BASE_SUITE}-{key}", _build_base, cache_dir)
    return entry / "base.tar"


def _build_base(work: Path, _final: Path) -> None:
    with apt_sources().open("rb") as sources:
        run_tool(["mmdebstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
                  BASE_SUITE, str(work / "base.tar"), "-"], "mmdebstrap", stdin=sources,
                 timeout_s=1200)


def ensure_base_image(tool: Podman, cache_dir: Path | None = None) -> str:
    """The Dockerfile's base image in podman's store: kept if present (a real pulled image
    is as good), else imported from :func:`base_tarball`. Returns its name."""
    exists = run_tool(["podman", "image", "exists", BASE_IMAGE], "podman image exists",
                      env=tool.env, check=False)
    if exists.returncode != 0:
        tool.run("import", str(base_tarball(cache_dir)), BASE_IMAGE, what="podman import")
    return BASE_IMAGE


def _wheels_label(repo: Path, extras: Sequence[str]) -> tuple[str, list[str]]:
    """The cache entry's name for these extras, and the extras' requirements pinned to the
    versions installed here (so pip reuses the wheel it built for this environment instead of
    compiling a newer release: llama-cpp-python takes ~20 min)."""
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    pins = []
    for extra in extras:
        for requirement in project["optional-dependencies"][extra]:
            match = _NAME.match(requirement)
            if match is None:
                continue
            try:
                pins.append(f"{match.group(0)}=={metadata.version(match.group(0))}")
            except metadata.PackageNotFoundError:
                continue
    wanted = {"dependencies": project["dependencies"], "pins": sorted(pins),
              "extras": {name: project["optional-dependencies"][name] for name in extras},
              "python": sys.version_info[:2]}
    key = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:12]
    return "-".join(("image-wheels", *extras, key)), pins


def dependency_wheels(repo: Path, extras: Sequence[str] = (),
                      cache_dir: Path | None = None) -> Path:
    """Wheels of every dependency of the project (with ``extras``), built on the host with
    its pip settings; cached by the project's dependency lists and the Python version."""
    label, pins = _wheels_label(repo, extras)

    def build(work: Path, _final: Path) -> None:
        target = f"{repo}[{','.join(extras)}]" if extras else str(repo)
        run_tool([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                  "--wheel-dir", str(work), target, *pins], "pip wheel (dependencies)",
                 timeout_s=1800)
        for own in work.glob("flowllama-*.whl"):  # the project's wheel is rebuilt each time
            own.unlink()
    return cached_directory(label, build, cache_dir)


def wheels_without_compiling(repo: Path, extras: Sequence[str],
                             cache_dir: Path | None = None) -> bool:
    """Whether :func:`dependency_wheels` can be had without compiling llama.cpp: already in
    the tools cache, or pip's cache holds a built llama-cpp-python wheel."""
    label, _pins = _wheels_label(repo, extras)
    if ((cache_dir or tools_cache_dir()) / label).is_dir() or "llamacpp" not in extras:
        return True
    listed = run_tool([sys.executable, "-m", "pip", "cache", "list", "--format=abspath",
                       "llama_cpp_python-*"], "pip cache list", check=False)
    return listed.returncode == 0 and bool(listed.stdout.strip())


def build_context(repo: Path, wheels: Path, dest: Path) -> Path:
    """A build context with what the Dockerfile copies: the repo's .dockerignore,
    ``deploy/docker/healthcheck.py`` and ``build/wheels`` (the dependencies, linked, plus the
    project's own wheel built now from ``repo``)."""
    wheel_dir = dest / "build" / "wheels"
    wheel_dir.mkdir(parents=True)
    for wheel in wheels.glob("*.whl"):
        _link_or_copy(wheel, wheel_dir / wheel.name)
    run_tool([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
              "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheel_dir), str(repo)],
             "pip wheel (flowllama)", timeout_s=600)
    (dest / "deploy" / "docker").mkdir(parents=True)
    shutil.copy2(repo / "deploy" / "docker" / "healthcheck.py",
                 dest / "deploy" / "docker" / "healthcheck.py")
    shutil.copy2(repo / ".dockerignore", dest / ".dockerignore")
    return dest


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem
        shutil.copy2(source, target)


def build_image(tool: Podman, repo: Path, context: Path, tag: str, *, target: str | None = None,
                build_args: Mapping[str, str] | None = None) -> str:
    """``podman build --pull=never`` of the real Dockerfile (docker format, so HEALTHCHECK is
    kept); returns the tag. Without layer caching: the project's own wheel changes with every
    commit, so cached install layers would rarely be reused, and each build would leave its
    stages behind as untagged images that fill the disk run after run."""
    args = ["build", "--runtime", "runc", "--pull=never", "--layers=false", "--format", "docker",
            "--file", str(repo / "deploy" / "docker" / "Dockerfile"), "--tag", tag]
    if target:
        args += ["--target", target]
    for name, value in (build_args or {}).items():
        args += ["--build-arg", f"{name}={value}"]
    tool.run(*args, str(context), what=f"podman build {tag}", timeout_s=1800)
    return tag


def image_size(tool: Podman, tag: str) -> int:
    """The image's size in bytes, as podman reports it (all layers, uncompressed)."""
    return int(tool.run("image", "inspect", "--format", "{{.Size}}", tag,
                        what="podman image inspect").strip())


def image_config(tool: Podman, tag: str) -> dict[str, object]:
    """The image's configuration (User, Labels, Healthcheck, Entrypoint...)."""
    inspected = json.loads(tool.run("image", "inspect", tag, what="podman image inspect"))[0]
    config: dict[str, object] = dict(inspected["Config"])
    # podman reports the docker-format HEALTHCHECK beside Config, not in it
    config.setdefault("Healthcheck", inspected.get("Healthcheck"))
    return config
