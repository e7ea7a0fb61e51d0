"""uvicorn's HTTP protocol with deadlines on the request head, so slow clients let go.

uvicorn closes a connection that stays idle *after* a response (``timeout_keep_alive``), but a
fresh connection that sends nothing, or trickles its request line and headers a byte at a
time, is never timed out, and its headers may grow without bound (llhttp has no size limit).
:func:`protocol_class` returns a subclass of uvicorn's httptools protocol that arms a timer
when a connection opens and when a new request begins, cancels it when the head is complete,
and answers 408 (deadline passed) or 431 (head over ``max_head_bytes``) and closes the
connection. The body is bounded at the ASGI level (``api/body_limit.py``).
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _response(status: bytes, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close"
            b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


REQUEST_TIMEOUT = _response(b"408 Request Timeout", "request_timeout",
                            "Request line and headers not received in time")
HEAD_TOO_LARGE = _response(b"431 Request Header Fields Too Large", "headers_too_large",
                           "Request line and headers are too large")


class DeadlineProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` plus a deadline and a size cap on each request's head."""

    head_timeout_s = 10.0
    max_head_bytes = 64 * 1024

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        waiting = self._head_timer is not None
        super().data_received(data)
        # Counted only while a head is incomplete: body bytes parsed in the same chunk after
        # the head do not count (on_headers_complete disarmed the timer).
        if waiting and self._head_timer is not None:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # a keep-alive or pipelined request: a new deadline
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        self._disarm()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._refuse,
                                                REQUEST_TIMEOUT)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def protocol_class(head_timeout_s: float, max_head_bytes: int) -> type[DeadlineProtocol]:
    """A :class:`DeadlineProtocol` with these limits, for ``uvicorn.Config(http=...)``."""
    return type("DeadlineProtocol", (DeadlineProtocol,),
                {"head_timeout_s": head_timeout_s, "max_head_bytes": max_head_bytes})
