"""A FastAPI app that hands some path prefixes to plain ASGI apps before its own layers run.

The token gateway's ``/v1`` and ``/ollama`` are such apps. FastAPI wraps every request in
several layers (telemetry checks, body limits, exception middleware, routing, dependency
solving) that together cost more CPU than the gateway's own work, so requests under those
prefixes skip all of it; they get the same request-id, access-log, metrics and CORS middleware
as every other route, wrapped around the prefix app itself (see ``api/app.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class PrefixedFastAPI(FastAPI):
    """FastAPI plus ``prefix`` → app for HTTP requests whose path is a prefix or lies under it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefixes: list[tuple[str, ASGIApp]] = []

    def serve_prefix(self, prefix: str, app: ASGIApp) -> None:
        """Send requests for ``prefix`` (e.g. ``/v1``) and below it straight to ``app``."""
        self.prefixes.append((prefix.rstrip("/"), app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for prefix, target in self.prefixes:
                if path.startswith(prefix) and path[len(prefix):len(prefix) + 1] in ("", "/"):
                    await target(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)
