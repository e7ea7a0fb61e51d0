"""HTTP request counts and latency, labelled by route template.

Recorded once per request by the request middleware (``api/middleware.py``), which times the
request to the end of its response body and knows its status.

The route label is the matched route's template (``/api/deployments/{deployment_id}``), with
the mount prefix of a sub-app (``/v1``) in front; a request no route matched is counted as
``unmatched`` (or ``<mount>/*`` inside a mount), so ids, probes and scanners can never grow
the number of series.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from starlette.types import Scope

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


def record_request(scope: Scope, outer_root_path: str, status: int, seconds: float) -> None:
    """Count a finished request and observe its duration, by route template."""
    counter, histogram = _children(str(scope["method"]), route_template(scope, outer_root_path),
                                   status)
    counter.inc()
    histogram.observe(seconds)


@lru_cache(maxsize=4096)  # bounded: routes are templates, methods and statuses are few
def _children(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled series of a request (``labels()`` takes a lock and hashes every time)."""
    return (HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_REQUEST_SECONDS.labels(method, route))
