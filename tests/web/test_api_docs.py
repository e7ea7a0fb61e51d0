"""``/api/docs`` renders in headless Chromium with every request off loopback refused: Swagger UI
comes from the package, not a CDN, and lists the token API beside the REST API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from processes import UpProcess, flowllama_up

LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@pytest.fixture(scope="module")
def docs_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    with flowllama_up(tmp_path_factory.mktemp("docs-up")) as running:
        yield running


def test_api_docs_render_offline(browser: Any, docs_up: UpProcess, screenshots: Path) -> None:
    page = browser.new_page()
    refused: list[str] = []
    problems: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{docs_up.base_url}/api/docs")
    chat = page.locator('[data-path="/v1/chat/completions"]')
    chat.first.wait_for(timeout=30_000)
    assert page.locator('[data-path="/api/deployments"]').count() >= 1
    assert page.locator('[data-path="/ollama/{deployment}/api/chat"]').count() >= 1
    page.screenshot(path=str(screenshots / "api-docs.png"), full_page=False)
    assert refused == []  # it never even tried another origin
    assert problems == []  # no CSP violation, no script error
    page.close()
