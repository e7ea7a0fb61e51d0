"""The OpenAI-compatible endpoints under ``/v1`` and the sub-application that serves them.

Handlers are thin: authenticate (cached), read the body, hand over to :class:`Gateway`. The
sub-application has its own error handlers so every error is in OpenAI's envelope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import Response

from flowllama.gateway.envelope import install_envelope_handlers
from flowllama.gateway.keys import KeyInfo
from flowllama.gateway.requests import parse, read_body

if TYPE_CHECKING:
    from flowllama.gateway.service import Gateway

router = APIRouter()


async def get_gateway(request: Request) -> Gateway:
    # ``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, and that
    # hop (twice per request, each waiting for the GIL) cost the hot path milliseconds.
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated["Gateway", Depends(get_gateway)]


async def get_api_key(request: Request, gateway: GatewayDep) -> KeyInfo:
    info = await gateway.authenticate(request.headers.get("authorization"))
    request.scope.setdefault("state", {})["user_id"] = info.user_id
    return info


ApiKeyDep = Annotated[KeyInfo, Depends(get_api_key)]


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness of the gateway itself (no key needed)."""
    return {"status": "ok"}


@router.get("/models")
async def list_models(key: ApiKeyDep, gateway: GatewayDep) -> dict[str, Any]:
    return {"object": "list", "data": await gateway.listed_models(key)}


async def _forward(request: Request, key: KeyInfo, gateway: Gateway, path: str,
                   required: str) -> Response:
    raw = await read_body(request, gateway.settings.max_body_bytes)
    request_id = request.scope.get("state", {}).get("request_id")
    return await gateway.forward(key, parse(raw, required), path, request_id)


@router.post("/chat/completions", response_model=None)
async def chat_completions(request: Request, key: ApiKeyDep, gateway: GatewayDep) -> Response:
    return await _forward(request, key, gateway, "/chat/completions", "messages")


@router.post("/completions", response_model=None)
async def completions(request: Request, key: ApiKeyDep, gateway: GatewayDep) -> Response:
    return await _forward(request, key, gateway, "/completions", "prompt")


@router.post("/embeddings", response_model=None)
async def embeddings(request: Request, key: ApiKeyDep, gateway: GatewayDep) -> Response:
    """Passed to runtimes that serve embeddings (Ollama); others answer with their error."""
    return await _forward(request, key, gateway, "/embeddings", "input")


def gateway_app(gateway: Gateway) -> FastAPI:
    """The ``/v1`` application (mounted by ``create_app`` when the gateway role runs)."""
    app = FastAPI(title="FlowLlama gateway", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gateway
    install_envelope_handlers(app)
    app.include_router(router)
    return app
