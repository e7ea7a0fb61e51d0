"""``GET /metrics``: Prometheus text exposition, on every role's app (see docs/operations.md).

It carries counts and latencies, never tenant data. Public in development and test; in
production it answers only ``Authorization: Bearer <http.metrics_token>`` (and is a 404
without a token configured) unless ``http.public_metrics`` says otherwise. The separate
listener of ``metrics_port`` is unaffected (keep it off the public network).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry

from flowllama.errors import NotFound, Unauthorized
from flowllama.metrics.exposition import CONTENT_TYPE, render
from flowllama.settings import Settings

router = APIRouter(tags=["metrics"])


def _check_access(settings: Settings, request: Request) -> None:
    if settings.metrics_public:
        return
    token = settings.http.metrics_token
    if token is None:
        raise NotFound("Not found")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(),
                                                             expected):
        raise Unauthorized("Metrics need the metrics bearer token", code="invalid_token")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    _check_access(request.app.state.platform.settings, request)
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(render(registry), media_type=CONTENT_TYPE)
