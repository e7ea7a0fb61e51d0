"""An exported site on another origin works against the API once that origin is allowed
(``FLOWLLAMA_WEB_ORIGINS``): the browser signs up, logs in and reaches the dashboard across
origins, and the API answers the CORS preflight."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import STRONG_PASSWORD
from flowllama.web.export import export_site
from processes import UpProcess, flowllama_up
from tiny_model import free_port

pytestmark = pytest.mark.slow


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A plain static file server on its own port (the "bucket"); yields its origin."""
    port = free_port()
    handler = functools.partial(QuietHandler,
                                directory=str(tmp_path / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_exported_site_talks_to_the_api_across_origins(browser: Any, site: str,
                                                       tmp_path: Path) -> None:
    env = {"FLOWLLAMA_WEB_ORIGINS": json.dumps([site])}
    (tmp_path / "up").mkdir()
    with flowllama_up(tmp_path / "up", env) as up:
        _check(browser, site, up, tmp_path)


def _check(browser: Any, site: str, up: UpProcess, tmp_path: Path) -> None:
    export_site(tmp_path / "site", up.base_url)
    preflight = httpx.options(f"{up.base_url}/api/auth/login", headers={
        "Origin": site, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.headers["access-control-allow-origin"] == site
    refused = httpx.options(f"{up.base_url}/api/auth/login", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in refused.headers

    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{site}/signup.html")
    page.fill("#email", "static@example.com")
    page.fill("#password", STRONG_PASSWORD)
    page.fill("#confirm", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/login.html?*")
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/app.html")
    page.wait_for_selector("text=No deployments yet")
    page.get_by_role("link", name="New deployment").first.click()
    page.wait_for_selector("#estimate[data-context]")  # the estimate came across origins too
    context.close()
    assert errors == []
