"""The native Ollama passthrough, ``/ollama/{deployment}/api/{route}``, for the owner's key,
and ``/models``, the list of what that key can reach through it (the ``ollama.<domain>``
host's model list; that host's ``/health`` is the gateway's own).

Only read and inference routes pass (``tags``, ``ps``, ``version``, ``show``, ``chat``,
``generate``, ``embed``); ``pull``, ``push``, ``create``, ``copy``, ``delete``, ``blobs`` and
anything else are 404, so a key can use a server but never change what it holds.
``{deployment}`` is a deployment name of the key's owner whose runtime is Ollama; anything else
is the same 404 as a missing one. Inference routes are limited and metered like ``/v1``; errors
use Ollama's shape, ``{"error": "..."}``, which the ``ollama`` client raises as
``ResponseError``. Bodies are checked and pinned to the deployment's model first
(:mod:`.native_schema`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from flowllama.errors import NotFound
from flowllama.gateway.endpoints import MethodNotAllowed, RouteLabel, authenticated
from flowllama.gateway.envelope import json_bytes
from flowllama.gateway.forwarding import failed_upstream, read_whole
from flowllama.gateway.keys import KeyInfo
from flowllama.gateway.native_schema import native_body
from flowllama.gateway.ndjson import NdjsonMeter
from flowllama.gateway.proxy import Opened, upstream_fault
from flowllama.gateway.routes import Upstream
from flowllama.gateway.upstream import UpstreamError, UpstreamTimeout
from flowllama.gateway.wire import (
    guarded,
    read_body,
    send_stream,
    send_whole,
    until_disconnect,
)

if TYPE_CHECKING:
    from flowllama.gateway.service import Gateway

PREFIX = "/ollama/"
READ_ROUTES = {("GET", "tags"), ("GET", "ps"), ("GET", "version"), ("POST", "show")}
INFERENCE_ROUTES = {("POST", "chat"), ("POST", "generate"), ("POST", "embed")}
LABEL = RouteLabel("/ollama/{deployment}/api/{route}")
MODELS_PATH = "/models"
MODELS_LABEL = RouteLabel(MODELS_PATH)


async def native_candidates(gateway: Gateway, key: KeyInfo, deployment: str) -> list[Upstream]:
    """The healthy Ollama instances of the owner's deployment called ``deployment``; an asleep
    one is woken and waited for like on ``/v1`` (:meth:`Gateway.after_wake`)."""
    owner = await gateway.routes.for_owner(key.user_id)
    target = owner.by_name.get(deployment)
    if target is None or not key.allows(target.name, target.model):
        raise NotFound(f"Deployment '{deployment}' not found", code="model_not_found")
    serving = list(target.upstreams) or await gateway.after_wake(key.user_id, deployment,
                                                                 [target])
    upstreams = [u for u in serving if u.native_base_url is not None]
    if not upstreams:
        raise NotFound(f"Deployment '{deployment}' does not run Ollama", code="no_native_api")
    return upstreams


def allowed_route(method: str, path: str) -> tuple[str, str, bool]:
    """``(deployment, route, is_inference)`` for an allowed passthrough path, else 404."""
    parts = path[len(PREFIX):].split("/") if path.startswith(PREFIX) else []
    if len(parts) != 3 or parts[1] != "api" or not parts[0]:
        raise NotFound("not found", code="not_found")
    deployment, _api, route = parts
    if (method, route) in INFERENCE_ROUTES:
        return deployment, route, True
    if (method, route) in READ_ROUTES:
        return deployment, route, False
    raise NotFound(f"/api/{route} is not available through FlowLlama", code="not_found")


def _render(_status: int, message: str, _code: str | None, _field: str | None) -> bytes:
    # Ollama's error shape, which the ``ollama`` client raises as ``ResponseError``.
    return json_bytes({"error": message})


class OllamaPassthrough:
    """The ``/ollama`` application (see the module doc)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await guarded(scope, send, lambda out: self._handle(scope, receive, out),
                          _render)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = LABEL
        method: str = scope["method"]
        deployment, route, inference = allowed_route(method, scope["path"])
        gateway = self.gateway
        key = await authenticated(gateway, scope)
        candidates = await native_candidates(gateway, key, deployment)
        raw = await read_body(scope, receive, gateway.settings.max_body_bytes) \
            if method == "POST" else b""
        stream = False
        if method == "POST":
            pinned = candidates[0]
            raw, stream = native_body(route, raw, pinned.model, pinned.context_size)
        if inference:
            gateway.budget.check(key)
            gateway.limiter.admit(key)
        request_id = scope.get("state", {}).get("request_id")
        await until_disconnect(receive, self._relay_answer(
            key, candidates, send, route=route, method=method, raw=raw, request_id=request_id,
            inference=inference, stream=stream))

    async def _relay_answer(self, key: KeyInfo, candidates: list[Upstream], send: Send, *,
                            route: str, method: str, raw: bytes, request_id: str | None,
                            inference: bool, stream: bool) -> None:
        gateway = self.gateway
        opened = await gateway.open_on_fresh_routes(
            key, candidates, lambda: native_candidates(gateway, key, candidates[0].deployment_name),
            lambda ups: gateway.proxy.open(ups, f"/api/{route}", lambda _u: raw, request_id,
                                           method=method, native=True, stream=stream))
        response = opened.response
        if upstream_fault(response.status):  # logged, never passed on (Ollama's 400s are)
            raise failed_upstream(opened, await read_whole(opened))
        meter = NdjsonMeter() if inference and response.status == 200 else None
        await send_stream(send, response.status,
                          response.header(b"content-type", b"application/json"), (),
                          _relay(self.gateway, key, opened, meter, timed=stream and inference))


async def _relay(gateway: Gateway, key: KeyInfo, opened: Opened, meter: NdjsonMeter | None,
                 *, timed: bool) -> AsyncGenerator[bytes, None]:
    """Pass the answer on chunk by chunk; a ``timed`` one (a generation stream) also records
    its time to first token."""
    try:
        async for chunk in opened.response.chunks():
            if meter is not None:
                meter.feed(chunk)
            if timed:
                opened.relayed()
            yield chunk
    except UpstreamError as exc:
        opened.fail("stalled" if isinstance(exc, UpstreamTimeout) else "broken")
        yield b'{"error":"the model server broke off its answer"}\n'
    finally:
        opened.close()
        if meter is not None:
            gateway.record(key, opened.upstream, meter.finish())


async def native_models(gateway: Gateway, key: KeyInfo) -> list[dict[str, str]]:
    """The key's serving Ollama deployments, and its sleeping ones (a request wakes them):
    name, model and passthrough base path."""
    owner = await gateway.routes.for_owner(key.user_id)
    return [{"name": t.name, "model": t.model, "path": f"{PREFIX}{t.name}"}
            for t in owner.targets
            if key.allows(t.name, t.model) and (
                (t.serving and any(u.native_base_url is not None for u in t.upstreams))
                or (t.asleep and t.ollama))]


class OllamaModels:
    """The ``/models`` application: ``GET`` with a key lists :func:`native_models` as
    ``{"models": [...]}``; errors in Ollama's shape."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await guarded(scope, send, lambda out: self._handle(scope, out), _render)

    async def _handle(self, scope: Scope, send: Send) -> None:
        if scope["path"].rstrip("/") != MODELS_PATH:
            raise NotFound("not found", code="not_found")
        scope["route"] = MODELS_LABEL
        if scope["method"] != "GET":
            raise MethodNotAllowed(f"Use GET for {MODELS_PATH}")
        key = await authenticated(self.gateway, scope)
        models = await native_models(self.gateway, key)
        await send_whole(send, 200, json_bytes({"models": models}))
