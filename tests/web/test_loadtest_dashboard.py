"""The load-test dashboard in headless Chromium, at desktop and phone width, screenshots kept
under the session's ``screenshots/`` folder: ``serve dashboard`` over a seeded store (the
regression flag on a seeded slow run, an empty store's empty state, raw files without path
traversal) and the same pages inside the web UI for a deployment's owner (run one now, a
second is refused, download a raw file with the session's token). The app runs under a real
uvicorn on 127.0.0.1, on SQLite (the API tests cover PostgreSQL)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import update

from factories import STRONG_PASSWORD
from flowllama.api.app import create_app
from flowllama.db import migrate
from flowllama.db.tables import Deployment, LoadtestRun
from flowllama.db.types import utcnow
from flowllama.loadtest.platform_settings import results_url
from flowllama.loadtest.store import open_store
from flowllama.platform import Platform, build_platform
from flowllama.settings import Settings
from loadtest_runs import write_runs

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
# Eleven steady runs, then one much slower with fewer tokens/s: the latest is a regression.
FIGURES = [{"latency_ms": 100 + i % 3 * 5, "tps": 50 - i % 2} for i in range(11)] + [
    {"latency_ms": 400, "tps": 20, "failures": 3}]


def _settings(root: Path) -> Settings:
    url = f"sqlite:///{root / 'flowllama.db'}"
    migrate.upgrade(url)
    return Settings(env="test", data_dir=root / "data", database_url=url,
                    auth={"jwt_secret": "test-secret-" + "x" * 40},  # type: ignore[arg-type]
                    quotas={"tiers": {"free": {}}},  # type: ignore[arg-type]
                    clouds={"aws": {"enabled": True},  # type: ignore[arg-type]
                            "ollama_sha256": "0" * 64})


@contextmanager
def _serving(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, in a thread, for one block."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text else None)
    return errors


def _no_page_overflow(page: Any) -> None:
    """Wide tables scroll in their box; the page itself never scrolls sideways."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _check_board(page: Any) -> None:
    page.get_by_role("alert").filter(has_text="Regression").wait_for()
    assert page.locator(".lt-flag").count() >= 3  # p50/p95/p99 at least
    assert page.locator("svg.spark").count() >= 10
    assert page.locator("svg.spark circle").count() >= 12 * 10
    assert "free" in page.locator(".lt-facts").inner_text()


def test_serve_dashboard_desktop_phone_and_empty(browser: Any, tmp_path: Path,
                                                 screenshots: Path) -> None:
    settings = _settings(tmp_path)
    store = open_store(results_url(settings.loadtest, settings.data_dir))
    refs = write_runs(store, "chat", tmp_path, FIGURES)
    empty = _settings(tmp_path / "empty")
    with (_serving(create_app(build_platform(settings), ["dashboard"])) as base,
          _serving(create_app(build_platform(empty), ["dashboard"])) as empty_base):
        for name, viewport in VIEWPORTS.items():
            page = browser.new_page(viewport=viewport)
            errors = _errors(page)
            page.goto(f"{base}/")
            page.get_by_role("link", name="chat").click()
            _check_board(page)
            _no_page_overflow(page)
            page.screenshot(path=screenshots / f"loadtest-dashboard-{name}.png", full_page=True)
            assert errors == []
            page.close()
        page = browser.new_page(viewport=VIEWPORTS["phone"])
        page.goto(f"{empty_base}/dashboard/")
        page.get_by_role("heading", name="No load-test results yet").wait_for()
        page.screenshot(path=screenshots / "loadtest-dashboard-empty.png", full_page=True)
        page.close()
        raw = httpx.get(f"{base}/dashboard/targets/chat/runs/{refs[-1].run_id}/files/stats.csv")
        assert raw.status_code == 200 and raw.text.startswith("Type,Name")
        for path in (f"chat/runs/{refs[-1].run_id}/files/..%2F..%2F..%2Fjwt_secret",
                     f"..%2Fchat/runs/{refs[-1].run_id}/files/stats.csv",
                     f"chat/runs/{refs[-1].run_id}/files/.summary.json",
                     "chat/runs/20261201T040000Z-zzzzzzzz/files/stats.csv"):
            assert httpx.get(f"{base}/dashboard/targets/{path}").status_code == 404, path
        assert httpx.get(f"{base}/api/deployments").status_code == 404  # no API here


def _owner_with_runs(base: str, platform: Platform, tmp: Path) -> tuple[str, str, str]:
    """A signed-up owner, a serving deployment with seeded stored runs, and one without."""
    with httpx.Client(base_url=base) as http:
        body = {"email": "ada@example.com", "password": STRONG_PASSWORD}
        assert http.post("/api/auth/register", json=body).status_code == 201
        tokens = http.post("/api/auth/login", json=body).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        ids = [http.post("/api/deployments", headers=auth, json={
            "name": name, "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws",
        }).json()["id"] for name in ("chat", "quiet")]
    store = open_store(results_url(platform.settings.loadtest, platform.settings.data_dir))
    refs = write_runs(store, "chat", tmp, FIGURES)
    with platform.db.session() as session:
        session.execute(update(Deployment).values(status="running"))
        owner = session.get(Deployment, ids[0])
        assert owner is not None
        session.add_all(LoadtestRun(
            user_id=owner.user_id, deployment_id=ids[0], status="succeeded", duration_s=60,
            users=2, target=ref.target, run_id=ref.run_id,
            created_at=utcnow() - timedelta(hours=len(refs) - i)) for i, ref in enumerate(refs))
    return tokens["refresh_token"], ids[0], ids[1]


def test_owner_dashboard_inside_the_web_ui(browser: Any, tmp_path: Path,
                                           screenshots: Path) -> None:
    platform = build_platform(_settings(tmp_path))
    with _serving(create_app(platform, ["api"])) as base:
        refresh, deployment_id, quiet_id = _owner_with_runs(base, platform, tmp_path)
        context = browser.new_context(viewport=VIEWPORTS["desktop"], accept_downloads=True)
        context.add_init_script(
            f"sessionStorage.setItem('flowllama.refresh', {json.dumps(refresh)})")
        page = context.new_page()
        errors = _errors(page)
        page.goto(f"{base}/app.html#/deployments/{deployment_id}")
        page.get_by_role("link", name="Load tests and dashboard").click()
        _check_board(page)
        page.screenshot(path=screenshots / "loadtest-ui-desktop.png", full_page=True)
        with page.expect_download() as download:
            page.locator("a[data-loadtest-file='stats.csv']").first.click()
        assert Path(download.value.path()).read_text().startswith("Type,Name")

        page.get_by_role("button", name="Start").click()
        page.locator("#lt-runs").get_by_text("queued").wait_for()
        page.get_by_role("button", name="Start").click()
        page.get_by_text("already queued or running").wait_for()
        page.fill("#lt-users", "1000")
        page.get_by_role("button", name="Start").click()
        page.get_by_text("users may be at most").wait_for()

        page.set_viewport_size(VIEWPORTS["phone"])
        page.goto(f"{base}/app.html#/deployments/{quiet_id}/loadtests")
        page.get_by_role("heading", name="No load-test results yet").wait_for()
        _no_page_overflow(page)
        page.screenshot(path=screenshots / "loadtest-ui-phone-empty.png", full_page=True)
        page.goto(f"{base}/app.html#/deployments/{deployment_id}/loadtests")
        _check_board(page)
        _no_page_overflow(page)
        page.screenshot(path=screenshots / "loadtest-ui-phone.png", full_page=True)
        assert errors == []
        context.close()
