"""The image's dependency wheels come from its hash lock (requirements/runtime*.txt): the
command pip runs, and pip really refusing a file whose hash the lock does not name. Offline: the
"dependency" is a wheel made here, named in a lock by its path. The project's own wheel is built
by the build backend of requirements/build.txt (hash-checked), not by whatever pip fetches."""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from flowllama.devtools.container_image import (
    build_backend_command,
    build_backend_lock,
    dependency_wheel_command,
    dependency_wheels,
    image_lock,
    locked_version,
    project_wheel,
)
from flowllama.devtools.tools_cache import ToolUnavailable

REPO = Path(__file__).resolve().parents[2]


def tiny_wheel(directory: Path) -> Path:
    """A minimal pure-Python wheel, ``tinydep 1.0``."""
    path = directory / "tinydep-1.0-py3-none-any.whl"
    info = "tinydep-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("tinydep/__init__.py", "")
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n")
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\n"
                                        "Root-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_image_target_has_its_lock_and_no_other_set_of_extras_does() -> None:
    assert image_lock(REPO) == REPO / "requirements" / "runtime.txt"
    assert image_lock(REPO, ("llamacpp",)) == REPO / "requirements" / "runtime-llamacpp.txt"
    assert image_lock(REPO).is_file() and image_lock(REPO, ("llamacpp",)).is_file()
    with pytest.raises(ValueError, match="no image lock"):
        image_lock(REPO, ("aws",))


def test_the_command_checks_hashes_and_resolves_nothing(tmp_path: Path) -> None:
    lock = REPO / "requirements" / "runtime.txt"
    command = dependency_wheel_command(lock, tmp_path)
    assert command[1:4] == ["-m", "pip", "wheel"]
    assert {"--require-hashes", "--no-deps"} <= set(command)
    assert command[command.index("-r") + 1] == str(lock)
    assert command[command.index("--wheel-dir") + 1] == str(tmp_path)
    assert "." not in command and str(REPO) not in command  # the project's wheel is apart


@pytest.mark.parametrize("hash_line", ["right", "wrong", "none"])
def test_pip_builds_only_what_the_lock_hashes(tmp_path: Path, hash_line: str) -> None:
    wheel = tiny_wheel(tmp_path)
    digest = {"right": sha256(wheel), "wrong": "0" * 64, "none": None}[hash_line]
    lock = tmp_path / "lock.txt"
    lock.write_text(f"{wheel}" + (f" --hash=sha256:{digest}" if digest else "") + "\n")
    out = tmp_path / "out"
    result = subprocess.run(dependency_wheel_command(lock, out), capture_output=True,
                            text=True, check=False, timeout=120)
    if hash_line == "right":
        assert result.returncode == 0, result.stderr
        assert [p.name for p in out.iterdir()] == [wheel.name]
    else:
        assert result.returncode != 0
        assert "hash" in result.stderr.lower()
        assert not out.exists() or list(out.iterdir()) == []


def test_dependency_wheels_builds_the_lock_and_caches_by_its_content(tmp_path: Path) -> None:
    wheel, repo = tiny_wheel(tmp_path), tmp_path / "repo"
    (repo / "requirements").mkdir(parents=True)
    lock = repo / "requirements" / "runtime.txt"
    lock.write_text(f"{wheel} --hash=sha256:{sha256(wheel)}\n")
    built = dependency_wheels(repo, cache_dir=tmp_path / "cache")
    assert [p.name for p in built.glob("*.whl")] == [wheel.name]
    assert dependency_wheels(repo, cache_dir=tmp_path / "cache") == built  # cached
    lock.write_text(f"{wheel} --hash=sha256:{'0' * 64}\n")  # a new lock is a new build...
    with pytest.raises(ToolUnavailable):  # ...which pip refuses
        dependency_wheels(repo, cache_dir=tmp_path / "cache")


def test_locked_version_reads_a_pin_by_its_normalised_name() -> None:
    lock = REPO / "requirements" / "runtime-llamacpp.txt"
    pinned = next(line for line in lock.read_text().splitlines()
                  if line.startswith("llama-cpp-python=="))
    assert locked_version(lock, "Llama_CPP.python") == pinned.split("==")[1].split()[0]
    assert locked_version(REPO / "requirements" / "runtime.txt", "llama-cpp-python") is None


def test_the_build_backend_is_installed_from_its_lock_alone(tmp_path: Path) -> None:
    lock = build_backend_lock(REPO)
    assert lock == REPO / "requirements" / "build.txt" and lock.is_file()
    command = build_backend_command(lock, tmp_path)
    assert command[1:4] == ["-m", "pip", "install"]
    assert {"--require-hashes", "--no-deps"} <= set(command)
    assert command[command.index("-r") + 1] == str(lock)
    assert command[command.index("--target") + 1] == str(tmp_path)  # not the environment


def test_the_project_wheel_is_built_by_the_locked_backend(tmp_path: Path) -> None:
    """The wheel's ``Generator`` names the setuptools of requirements/build.txt, whatever
    setuptools the running environment has (CI's is older than [build-system]'s floor)."""
    try:
        wheel = project_wheel(REPO, tmp_path)
    except ToolUnavailable as exc:  # no index to fetch the locked backend from
        if os.environ.get("CI"):
            pytest.fail(f"required under CI: {exc}")
        pytest.skip(f"the locked build backend could not be installed: {exc}")
    with zipfile.ZipFile(wheel) as built:
        info = next(name for name in built.namelist() if name.endswith(".dist-info/WHEEL"))
        generator = next(line for line in built.read(info).decode().splitlines()
                         if line.startswith("Generator:"))
    locked = locked_version(build_backend_lock(REPO), "setuptools")
    assert locked is not None and generator == f"Generator: setuptools ({locked})"
