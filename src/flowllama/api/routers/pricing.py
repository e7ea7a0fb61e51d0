"""``/api/pricing/estimate``: size a model and rank where it runs cheapest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from flowllama.api.deps import PlatformDep
from flowllama.catalog.optimizer import parse_request
from flowllama.domain.pricing import EstimateQuery
from flowllama.services.catalog import result_json

router = APIRouter(prefix="/api/pricing", tags=["pricing"])


@router.get("/estimate")
def get_estimate(platform: PlatformDep, query: Annotated[EstimateQuery, Query()]
                 ) -> dict[str, Any]:
    request = parse_request(query.as_request_data())
    return result_json(platform.catalog.estimate(request))
