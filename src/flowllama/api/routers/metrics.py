"""``GET /metrics``: Prometheus text exposition, on every role's app (see docs/operations.md).

Unauthenticated, like every Prometheus target: it carries counts and latencies, never tenant
data; keep it off the public ingress.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry

from flowllama.metrics.exposition import CONTENT_TYPE, render

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(render(registry), media_type=CONTENT_TYPE)
