"""``flowllama serve dashboard``: the operator's dashboard over every target of the store.

It has no login: it shows every tenant's targets, so bind it to loopback or a private network
(or put it behind the ingress's authentication). Inside ``flowllama up`` the same pages are
served per deployment to its owner only, through the API (``api/routers/loadtests.py``).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from flowllama.errors import NotFound
from flowllama.loadtest.dashboard.render import empty_html, page, target_html
from flowllama.loadtest.dashboard.source import (
    checked_ref,
    is_slug,
    load_runs,
    media_type,
    store_errors,
)
from flowllama.loadtest.platform_settings import LoadtestSettings, results_url
from flowllama.loadtest.store import ResultsStore, open_store
from flowllama.web.pages import STATIC_DIR

CSS = ("/dashboard/assets/styles.css", "/dashboard/assets/loadtests.css")
Runs = Annotated[int | None, Query(ge=2, le=1000)]

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def _store(request: Request) -> ResultsStore:
    store: ResultsStore = request.app.state.loadtest_store
    return store


def _limits(request: Request) -> LoadtestSettings:
    limits: LoadtestSettings = request.app.state.platform.settings.loadtest
    return limits


def _html(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(page(title, body, CSS), headers={"Cache-Control": "no-cache"})


@router.get("/")
@store_errors()
def index(request: Request) -> HTMLResponse:
    store = _store(request)
    rows = []
    for slug in store.targets():
        latest = store.list_runs(slug, limit=1)
        if latest:
            rows.append(f'<li><a href="/dashboard/targets/{quote(slug)}">{escape(slug)}</a> '
                        f'<span class="muted">latest run {escape(latest[0].run_id)}</span></li>')
    if not rows:
        body = empty_html("No load-test results yet",
                          f"The store {store.url} has no complete run. Run "
                          "`flowllama loadtest run --results …` or a deployment's load test; "
                          "its results appear here.")
    else:
        body = ('<section class="lt"><h2>Targets</h2>'
                f'<ul class="lt-targets">{"".join(rows)}</ul></section>')
    return _html("FlowLlama load tests", body)


@router.get("/targets/{target}")
@store_errors()
def target(request: Request, target: str, runs: Runs = None) -> HTMLResponse:
    if not is_slug(target):
        raise NotFound("No such target", field="target")
    limits = _limits(request)
    store = _store(request)
    refs = store.list_runs(target, limit=runs or limits.dashboard_runs)
    if not refs:
        raise NotFound("No such target", field="target")

    def href(run_id: str, name: str) -> str:
        return f"/dashboard/targets/{quote(target)}/runs/{quote(run_id)}/files/{quote(name)}"

    body = target_html(target, load_runs(store, refs), href, limits.regression_margin)
    return _html(f"{target} · FlowLlama load tests", body)


@router.get("/targets/{target}/runs/{run_id}/files/{name}")
@store_errors()
def raw_file(request: Request, target: str, run_id: str, name: str) -> Response:
    ref = checked_ref(target, run_id, name)
    data = _store(request).file_url_or_bytes(ref, name)
    if isinstance(data, str):  # an S3 store: a short-lived presigned URL
        return RedirectResponse(data, status_code=307)
    return raw_response(data, f"{run_id}-{name}", media_type(name))


def raw_response(data: bytes, filename: str, kind: str) -> Response:
    """A raw file as a download (never rendered by the browser as a page)."""
    return Response(data, media_type=kind, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-cache"})


def mount_dashboard(app: FastAPI, limits: LoadtestSettings, data_dir: Path) -> None:
    """Serve the dashboard (and the UI's stylesheets it uses) on ``app``; ``/`` leads to it."""
    app.state.loadtest_store = open_store(results_url(limits, data_dir))
    app.include_router(router)
    app.mount("/dashboard/assets", StaticFiles(directory=STATIC_DIR / "assets"),
              name="dashboard-assets")
    app.add_api_route("/", lambda: RedirectResponse("/dashboard/"), include_in_schema=False)
