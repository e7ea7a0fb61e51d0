"""Build deploy/docker/Dockerfile for real with podman, offline, for the tests and bench/.

No image registry is reachable here, so the ``FROM`` base is made from Debian packages with
mmdebstrap (the machine's own apt sources read from stdin; no mirror is named here) and
imported under the exact name the Dockerfile uses. A build sees none of the machine's pip
settings, so the wheels are built on the host (``pip wheel --require-hashes`` of the image's
lock, requirements/runtime*.txt) and the image installs them with ``--no-index``. The
project's own wheel is built without build isolation by the build backend of
requirements/build.txt (hash-checked), so no unpinned setuptools comes from an index. The base
tarball, the dependency wheels and the build backend live in the tools cache; only the
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^ \\]+)", re.MULTILINE)  # a lock's "name==version"


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


# The hash-locked, runtime-only dependency list of each image target, by its extras
# (requirements/runtime*.txt; tests/test_dependency_lock.py keeps them complete and equal to CI's).
IMAGE_LOCKS = {(): "runtime.txt", ("llamacpp",): "runtime-llamacpp.txt"}


def image_lock(repo: Path, extras: Sequence[str] = ()) -> Path:
    """The lock file the image target with ``extras`` installs from; ValueError for extras
    that no image target has."""
    name = IMAGE_LOCKS.get(tuple(sorted(extras)))
    if name is None:
        raise ValueError(f"no image lock for extras {list(extras)}; image targets have "
                         f"{[list(key) for key in IMAGE_LOCKS]}")
    return repo / "requirements" / name


def dependency_wheel_command(lock: Path, wheel_dir: Path) -> list[str]:
    """``pip wheel`` of exactly the pins of ``lock``, each checked against its hashes; no
    resolution (``--no-deps``): the lock is the whole dependency set."""
    return [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
            "--require-hashes", "--no-deps", "--wheel-dir", str(wheel_dir), "-r", str(lock)]


def _wheels_label(lock: Path, kind: str = "image-wheels") -> str:
    """The cache entry's name: the lock's content and the Python version that builds."""
    key = hashlib.sha256(lock.read_bytes() + repr(sys.version_info[:2]).encode()).hexdigest()
    return f"{kind}-{lock.stem}-{key[:12]}"


def build_backend_lock(repo: Path) -> Path:
    """The hash lock of pyproject's ``[build-system]`` requires (the project's build backend)."""
    return repo / "requirements" / "build.txt"


def build_backend_command(lock: Path, target: Path) -> list[str]:
    """Install exactly the pins of ``lock``, each checked against its hashes, into ``target``
    (a directory put first on ``PYTHONPATH`` for the build, not the running environment)."""
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--require-hashes", "--no-deps", "--target", str(target), "-r", str(lock)]


def build_backend(repo: Path, cache_dir: Path | None = None) -> Path:
    """A directory holding the locked build backend (requirements/build.txt); cached by the
    lock's content and the Python version."""
    lock = build_backend_lock(repo)

    def build(work: Path, _final: Path) -> None:
        run_tool(build_backend_command(lock, work), "pip install (locked build backend)",
                 timeout_s=600)
    return cached_directory(_wheels_label(lock, "build-backend"), build, cache_dir)


def project_wheel(repo: Path, wheel_dir: Path, cache_dir: Path | None = None) -> Path:
    """Build the project's wheel from ``repo`` into ``wheel_dir`` (which holds no other
    flowllama wheel) with the locked build backend first on ``PYTHONPATH`` and no build
    isolation, so pip fetches nothing for the build; returns the wheel."""
    backend = build_backend(repo, cache_dir)
    inherited = os.environ.get("PYTHONPATH")
    path = str(backend) + (os.pathsep + inherited if inherited else "")
    run_tool([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
              "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheel_dir), str(repo)],
             "pip wheel (flowllama)", timeout_s=600, env={**os.environ, "PYTHONPATH": path})
    [wheel] = wheel_dir.glob("flowllama-*.whl")
    return wheel


def locked_version(lock: Path, name: str) -> str | None:
    """The version ``lock`` pins for distribution ``name`` (None when it has no pin)."""
    for pinned, version in _PIN.findall(lock.read_text()):
        if _canonical(pinned) == _canonical(name):
            return str(version)
    return None


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Llama_CPP.python`` is ``llama-cpp-python``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_wheels(repo: Path, extras: Sequence[str] = (),
                      cache_dir: Path | None = None) -> Path:
    """Wheels of the image target's locked dependencies (``extras`` picks the target), built
    on the host with its pip settings and checked against the lock's hashes; cached by the
    lock's content and the Python version. The project's own wheel is not among them."""
    lock = image_lock(repo, extras)

    def build(work: Path, _final: Path) -> None:
        run_tool(dependency_wheel_command(lock, work), "pip wheel (locked dependencies)",
                 timeout_s=1800)
    return cached_directory(_wheels_label(lock), build, cache_dir)


def wheels_without_compiling(repo: Path, extras: Sequence[str],
                             cache_dir: Path | None = None) -> bool:
    """Whether :func:`dependency_wheels` can be had without compiling llama.cpp: already in
    the tools cache, or pip's cache holds a wheel built from the locked llama-cpp-python
    (pip reuses it in hash-checking mode when the sdist's hash matches the lock's)."""
    lock = image_lock(repo, extras)
    if ((cache_dir or tools_cache_dir()) / _wheels_label(lock)).is_dir() \
            or "llamacpp" not in extras:
        return True
    version = locked_version(lock, "llama-cpp-python") or "*"
    listed = run_tool([sys.executable, "-m", "pip", "cache", "list", "--format=abspath",
                       f"llama_cpp_python-{version}-*"], "pip cache list", check=False)
    return listed.returncode == 0 and bool(listed.stdout.strip())


def build_context(repo: Path, wheels: Path, dest: Path) -> Path:
    """A build context with what the Dockerfile copies: the repo's .dockerignore,
    ``deploy/docker/healthcheck.py`` and ``build/wheels`` (the dependencies, linked, plus the
    project's own wheel built now from ``repo``)."""
    wheel_dir = dest / "build" / "wheels"
    wheel_dir.mkdir(parents=True)
    for wheel in wheels.glob("*.whl"):
        _link_or_copy(wheel, wheel_dir / wheel.name)
    project_wheel(repo, wheel_dir)
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
