"""Fixtures for runtime tests: a fake Ollama API in-process, or as an ``ollama`` executable."""

from __future__ import annotations

import importlib.util
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

__all__ = ["fake_ollama", "fake_ollama_executable"]

FAKE_OLLAMA_SCRIPT = Path(__file__).with_name("fake_ollama.py")


def _load_fake_ollama() -> ModuleType:
    # Loaded by path: test directories are not packages under --import-mode=importlib.
    spec = importlib.util.spec_from_file_location("fake_ollama", FAKE_OLLAMA_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake_ollama_module = _load_fake_ollama()


@pytest.fixture
def fake_ollama() -> Iterator[Any]:
    """A running fake Ollama API on a free loopback port (``.base_url``, ``.requests``)."""
    with fake_ollama_module.running(fake_ollama_module.FakeOllama()) as server:
        yield server


@pytest.fixture
def fake_ollama_executable(tmp_path: Path) -> Path:
    """An executable named ``ollama`` that runs the fake API (``ollama serve``)."""
    path = tmp_path / "bin" / "ollama"
    path.parent.mkdir()
    path.write_text(
        f"#!{sys.executable}\n"
        "import runpy\n"
        f"runpy.run_path({str(FAKE_OLLAMA_SCRIPT)!r}, run_name='__main__')\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path
