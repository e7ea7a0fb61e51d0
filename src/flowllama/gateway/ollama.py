"""The native Ollama passthrough, ``/ollama/{deployment}/api/{route}``, for the owner's key.

Only read and inference routes pass (``tags``, ``ps``, ``version``, ``show``, ``chat``,
``generate``, ``embed``); ``pull``, ``push``, ``create``, ``copy``, ``delete``, ``blobs`` and
anything else are 404, so a key can use a server but never change what it holds.
``{deployment}`` is a deployment name of the key's owner whose runtime is Ollama; anything else
is the same 404 as a missing one. Inference routes are limited and metered like ``/v1``; errors
use Ollama's shape, ``{"error": "..."}``, which the ``ollama`` client raises as
``ResponseError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response, StreamingResponse

from flowllama.errors import ClientError, NotFound
from flowllama.gateway.endpoints import ApiKeyDep, GatewayDep
from flowllama.gateway.keys import KeyInfo
from flowllama.gateway.ndjson import NdjsonMeter
from flowllama.gateway.proxy import Opened
from flowllama.gateway.requests import read_body
from flowllama.gateway.routes import Upstream

if TYPE_CHECKING:
    from flowllama.gateway.service import Gateway

READ_ROUTES = {("GET", "tags"), ("GET", "ps"), ("GET", "version"), ("POST", "show")}
INFERENCE_ROUTES = {("POST", "chat"), ("POST", "generate"), ("POST", "embed")}
router = APIRouter()


async def native_candidates(gateway: Gateway, key: KeyInfo, deployment: str) -> list[Upstream]:
    """The healthy Ollama instances of the owner's deployment called ``deployment``."""
    owner = await gateway.routes.for_owner(key.user_id)
    target = owner.by_name.get(deployment)
    if target is None or not key.allows(target.name, target.model):
        raise NotFound(f"Deployment '{deployment}' not found", code="model_not_found")
    upstreams = [u for u in target.upstreams if u.native_base_url is not None]
    if target.upstreams and not upstreams:
        raise NotFound(f"Deployment '{deployment}' does not run Ollama", code="no_native_api")
    if not upstreams:
        from flowllama.gateway.service import not_serving

        raise not_serving(deployment, [target])
    return upstreams


@router.api_route("/{deployment}/api/{route}",
                  methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
                  response_model=None)
async def passthrough(deployment: str, route: str, request: Request, key: ApiKeyDep,
                      gateway: GatewayDep) -> Response:
    allowed = (request.method, route)
    if allowed not in READ_ROUTES and allowed not in INFERENCE_ROUTES:
        raise NotFound(f"/api/{route} is not available through FlowLlama", code="not_found")
    candidates = await native_candidates(gateway, key, deployment)
    raw = await read_body(request, gateway.settings.max_body_bytes) \
        if request.method == "POST" else b""
    inference = allowed in INFERENCE_ROUTES
    if inference:
        gateway.budget.check(key)
        gateway.limiter.admit(key)
    request_id = request.scope.get("state", {}).get("request_id")
    opened = await gateway.proxy.open(candidates, f"/api/{route}", lambda _u: raw, request_id,
                                      method=request.method, native=True)
    media_type = opened.response.headers.get("content-type", "application/json")
    meter = NdjsonMeter() if inference and opened.response.status_code == 200 else None
    return StreamingResponse(_relay(gateway, key, opened, meter),
                             status_code=opened.response.status_code, media_type=media_type)


async def _relay(gateway: Gateway, key: KeyInfo, opened: Opened, meter: NdjsonMeter | None
                 ) -> AsyncIterator[bytes]:
    try:
        async for chunk in opened.response.aiter_raw():
            if meter is not None:
                meter.feed(chunk)
            yield chunk
    except httpx.HTTPError:
        yield b'{"error":"the model server broke off its answer"}\n'
    finally:
        await opened.aclose()
        if meter is not None:
            gateway.record(key, opened.upstream, meter.finish())


async def _ollama_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClientError)
    return JSONResponse({"error": exc.message}, status_code=exc.status_code,
                        headers=exc.headers)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body: dict[str, Any] = {"error": "not found" if exc.status_code == 404 else str(exc.detail)}
    return JSONResponse(body, status_code=exc.status_code)


def ollama_app(gateway: Gateway) -> FastAPI:
    """The ``/ollama`` application (mounted next to ``/v1``)."""
    app = FastAPI(title="FlowLlama Ollama passthrough", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.gateway = gateway
    app.add_exception_handler(ClientError, _ollama_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(router)
    return app
