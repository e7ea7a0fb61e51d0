"""The OpenAI-compatible endpoints under ``/v1``, as a plain ASGI application.

This is the hot path every customer request takes, so it is written against ASGI directly
(a dictionary lookup for the route, no dependency injection, no response classes): the
framework's routing and dependency solving cost more than the rest of the gateway together.
Handlers are thin: authenticate (cached), read the body, hand over to :class:`Gateway`. Every
error is answered in OpenAI's envelope (:mod:`flowllama.gateway.envelope`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from flowllama.errors import ClientError, NotFound
from flowllama.gateway.envelope import json_bytes, render
from flowllama.gateway.requests import parse
from flowllama.gateway.wire import guarded, header, read_body, send_whole, until_disconnect

if TYPE_CHECKING:
    from flowllama.gateway.keys import KeyInfo
    from flowllama.gateway.service import Gateway


class MethodNotAllowed(ClientError):
    status_code = 405
    code = "method_not_allowed"


@dataclass(frozen=True, slots=True)
class RouteLabel:
    """What the HTTP metrics label a request with (they read ``scope["route"].path``)."""

    path: str


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A ``POST`` endpoint that is proxied: its upstream path and its required field."""

    upstream_path: str
    required: str


FORWARDED = {
    "/v1/chat/completions": Forwarded("/chat/completions", "messages"),
    "/v1/completions": Forwarded("/completions", "prompt"),
    # Passed to runtimes that serve embeddings (Ollama); others answer with their error.
    "/v1/embeddings": Forwarded("/embeddings", "input"),
}
LOCAL = {"/v1/health", "/v1/models"}
LABELS = {path: RouteLabel(path) for path in (*FORWARDED, *LOCAL)}


class OpenAIEndpoints:
    """The ``/v1`` application (see the module doc)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await guarded(scope, send, lambda out: self._route(scope, receive, out), render)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        label = LABELS.get(path)
        if label is None:
            raise NotFound("Unknown endpoint", code="unknown_url")
        scope["route"] = label
        forwarded = FORWARDED.get(path)
        expected = "POST" if forwarded is not None else "GET"
        if scope["method"] != expected:
            raise MethodNotAllowed(f"Use {expected} for {path}")
        if path == "/v1/health":  # liveness of the gateway itself (no key needed)
            await send_whole(send, 200, b'{"status":"ok"}')
            return
        key = await authenticated(self.gateway, scope)
        if forwarded is None:
            data = await self.gateway.listed_models(key)
            await send_whole(send, 200, json_bytes({"object": "list", "data": data}))
            return
        raw = await read_body(scope, receive, self.gateway.settings.max_body_bytes)
        request = parse(raw, forwarded.required)
        request_id = scope.get("state", {}).get("request_id")
        await until_disconnect(receive, self.gateway.forward(
            key, request, forwarded.upstream_path, request_id, send))


async def authenticated(gateway: Gateway, scope: Scope) -> KeyInfo:
    """The key in the request's ``Authorization`` header (cached), noted in the scope's state
    for the access log; raises ``Unauthorized``."""
    authorization = header(scope, b"authorization")
    info = await gateway.authenticate(
        authorization.decode("latin-1") if authorization is not None else None)
    scope.setdefault("state", {})["user_id"] = info.user_id
    return info
