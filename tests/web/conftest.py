"""Browser fixtures: Playwright driving Debian's Chromium (never a downloaded browser), one
``flowllama up`` with the tiny local model for the module, and a screenshots folder under the
test session's temporary directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowllama.runtimes import LlamaCppRuntime
from processes import UpProcess, flowllama_up, local_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> Path:
    """Debian's Chromium, or the test is skipped with how to install it."""
    found = CHROMIUM if CHROMIUM.is_file() else Path(shutil.which("chromium") or "/nonexistent")
    if not found.is_file():
        pytest.skip("Chromium is not installed: `apt-get install -y chromium` (.ci/run does it)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module, so Playwright's event loop is gone before other packages' asyncio tests."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="pip install playwright (the dev extra)")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    # Access tokens expire after the minimum 30 s, so the UI's refresh-on-401 runs for real.
    env = local_env(tiny_model_file.parent, FLOWLLAMA_AUTH__ACCESS_TOKEN_TTL_S="30")
    with flowllama_up(tmp_path_factory.mktemp("web-up"), env) as running:
        yield running
