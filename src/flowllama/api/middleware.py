"""Request ids, the access log and the HTTP metrics, as one plain ASGI middleware (one wrapper
and one timing per request: it sits on the gateway's hot path).

The request id comes from ``X-Request-ID`` when it is a sane token, otherwise a fresh one; it is
echoed back, bound to every log line of the request, and kept in ``scope["state"]`` where
error handlers and dependencies (which add ``user_id``) find it.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowllama.logging import bound_logger
from flowllama.metrics.http import record_request

ACCESS_LOG = "flowllama.http"

_random = random.Random()  # noqa: S311 - request ids need uniqueness, not secrecy
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(candidate):
                return candidate
            break
    # Not a secret, just unique: 128 bits from the process's PRNG (uuid4 reads the OS's
    # random source, a system call per request).
    return f"{_random.getrandbits(128):032x}"


class RequestContextMiddleware:
    """Assign a request id, echo it, and per request write one structured access-log line and
    record the HTTP metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        outer_root_path = str(scope.get("root_path", ""))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        # bind/reset rather than the ``bound_contextvars`` context manager, which costs
        # several times more (it was half of the access log's price per request).
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            record_request(scope, outer_root_path, status, seconds)
            bound_logger(ACCESS_LOG).info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(seconds * 1000, 2),
                user_id=state.get("user_id"),
            )
            structlog.contextvars.reset_contextvars(**tokens)
