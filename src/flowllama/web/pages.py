"""Serve the static web UI: pages at ``/`` and ``/<name>.html``, files under ``/assets``.

Pages are explicit routes rather than a catch-all mount at ``/`` so that the API keeps its own
404/405 answers for paths under ``/api``, ``/v1`` and ``/ollama``.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from flowllama.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"
_PAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9\-]{0,63}$")

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    path = STATIC_DIR / f"{name}.html"
    if not _PAGE_NAME.match(name) or not path.is_file():
        raise NotFound("Not found")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


@router.get("/")
def index() -> FileResponse:
    return _page("index")


@router.get("/{name}.html")
def page(name: str) -> FileResponse:
    return _page(name)


def mount_web(app: FastAPI) -> None:
    """Add the UI routes (and ``/assets`` when the build has any)."""
    app.include_router(router)
    assets = STATIC_DIR / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")
