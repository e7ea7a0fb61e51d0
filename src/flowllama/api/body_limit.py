"""Bound what a request body may cost: its size and the time it takes to arrive.

:class:`BodyLimitMiddleware` wraps every app (the control plane and the gateway's prefix
apps). A declared ``Content-Length`` over the limit is refused at once, before the app runs;
otherwise ``receive`` is wrapped to count the streamed bytes (chunked bodies declare nothing)
and to put a deadline on the whole body. Past either, the middleware answers 413 or 408 itself
(``Connection: close``, in the house error format) and the app's ``receive`` reports a
disconnect, so the app never holds more than the limit and a trickled body cannot pin a
connection and a worker for ever. What the app sends after that is dropped.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DISCONNECT: Message = {"type": "http.disconnect"}


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` (``None`` when absent or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def send_refusal(send: Send, status: int, code: str, message: str) -> None:
    """An error response that also closes the connection (the rest of the body is unread)."""
    body = json.dumps({"error": {"code": code, "message": message, "field": "body"}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` (``None``: the app bounds size itself) and bodies not
    received within ``timeout_s`` of the app's first read."""

    def __init__(self, app: ASGIApp, max_bytes: int | None, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if self.max_bytes is not None and declared is not None and declared > self.max_bytes:
            await send_refusal(send, 413, "payload_too_large", self.too_large_message())
            return
        guard = _BodyGuard(self, receive, send)
        await self.app(scope, guard.receive, guard.send)

    def too_large_message(self) -> str:
        return f"Request body is larger than {self.max_bytes} bytes"


class _BodyGuard:
    """One request's view of ``receive``/``send`` under the limits."""

    def __init__(self, limits: BodyLimitMiddleware, receive: Receive, send: Send) -> None:
        self.limits = limits
        self._receive = receive
        self._send = send
        self.received = 0
        self.deadline: float | None = None
        self.complete = False  # the whole body arrived: later reads only wait for disconnect
        self.refused = False
        self.started = False

    async def receive(self) -> Message:
        if self.refused:
            return _DISCONNECT
        if self.complete:
            return await self._receive()
        loop = asyncio.get_running_loop()
        if self.deadline is None:
            self.deadline = loop.time() + self.limits.timeout_s
        try:
            # timeout_at, not wait_for: no extra task per read (this sits on the gateway's path)
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            await self._refuse(408, "request_timeout", "Request body was not received in time")
            return _DISCONNECT
        if message["type"] != "http.request":
            return message
        self.received += len(message.get("body", b""))
        limit = self.limits.max_bytes
        if limit is not None and self.received > limit:
            await self._refuse(413, "payload_too_large", self.limits.too_large_message())
            return _DISCONNECT
        self.complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def _refuse(self, status: int, code: str, text: str) -> None:
        if not self.started:
            self.started = True
            await send_refusal(self._send, status, code, text)
        self.refused = True
