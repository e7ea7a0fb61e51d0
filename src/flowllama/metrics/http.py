"""HTTP request counts and latency, labelled by route template, as plain ASGI middleware.

The route label is the matched route's template (``/api/deployments/{deployment_id}``), with
the mount prefix of a sub-app (``/v1``) in front; a request no route matched is counted as
``unmatched`` (or ``<mount>/*`` inside a mount), so ids, probes and scanners can never grow
the number of series.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowllama.metrics.instruments import HTTP_REQUEST_SECONDS, HTTP_REQUESTS

UNMATCHED = "unmatched"


def route_template(scope: Scope, outer_root_path: str) -> str:
    """The label for the route that served ``scope`` (filled in by Starlette's router)."""
    mount = str(scope.get("root_path", ""))[len(outer_root_path):]
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return mount + path
    return f"{mount}/*" if mount else UNMATCHED


class HttpMetricsMiddleware:
    """Counts every HTTP request and times it to the end of the response body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outer_root_path = str(scope.get("root_path", ""))
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = route_template(scope, outer_root_path)
            counter, histogram = _children(str(scope["method"]), route, status)
            counter.inc()
            histogram.observe(time.perf_counter() - started)


@lru_cache(maxsize=4096)  # bounded: routes are templates, methods and statuses are few
def _children(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled series of a request (``labels()`` takes a lock and hashes every time)."""
    return (HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_REQUEST_SECONDS.labels(method, route))
