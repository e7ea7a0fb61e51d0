"""Plain-ASGI input and output for the gateway's hot path (no framework in between).

Reading a bounded request body, sending a whole answer, sending a stream piece by piece, and
noticing that the client went away. The gateway's two front doors (``/v1`` and ``/ollama``) are
written against these, so a proxied request costs a few dictionary lookups and two ``send``
calls on top of the server's own work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable

from starlette.types import Message, Receive, Scope, Send

from flowllama.db.outage import DatabaseUnavailable, is_unavailable
from flowllama.errors import ClientError, PayloadTooLarge
from flowllama.gateway import telemetry
from flowllama.logging import get_logger

log = get_logger(__name__)

Headers = Iterable[tuple[bytes, bytes]]
LISTEN_AFTER_S = 0.05
# Renders an error body from (status, message, code, field): each front door has its shape.
ErrorRenderer = Callable[[int, str, "str | None", "str | None"], bytes]


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of request header ``name`` (lower case), if any."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def read_body(scope: Scope, receive: Receive, max_bytes: int) -> bytes:
    """The request body, refusing one over ``max_bytes`` (413) before reading it when its
    declared length already says so."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Request body is larger than {max_bytes} bytes")
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"Request body is larger than {max_bytes} bytes")
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"Request body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def start_message(status: int, content_type: bytes, headers: Headers = (),
                  length: int | None = None) -> Message:
    """The ``http.response.start`` message (``content-length`` when ``length`` is given)."""
    raw = [(b"content-type", content_type), *headers]
    if length is not None:
        raw.append((b"content-length", b"%d" % length))
    return {"type": "http.response.start", "status": status, "headers": raw}


async def send_whole(send: Send, status: int, body: bytes,
                     content_type: bytes = b"application/json", headers: Headers = ()) -> None:
    """Answer with ``body`` in one piece."""
    await send(start_message(status, content_type, headers, len(body)))
    await send({"type": "http.response.body", "body": body})


async def send_stream(send: Send, status: int, content_type: bytes, headers: Headers,
                      pieces: AsyncGenerator[bytes, None]) -> None:
    """Answer with ``pieces`` as they come (each one written out at once). ``pieces`` is
    closed however this ends, so its clean-up runs even when a ``send`` is cancelled."""
    try:
        await send(start_message(status, content_type, headers))
        async for piece in pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await pieces.aclose()


async def guarded(scope: Scope, send: Send, handle: Callable[[Send], Awaitable[None]],
                  render: ErrorRenderer) -> None:
    """Run ``handle``; answer a ``ClientError`` it raises with its status, headers and
    ``render``'s body, and anything else with a logged 500 (never a bare one). Once the
    response has started nothing more can be said: the error ends it."""
    started = False

    async def tracked(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        try:
            await handle(tracked)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("gateway.database_unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
            raise DatabaseUnavailable() from exc
    except ClientError as exc:
        telemetry.refused(exc.status_code, exc.code)
        if not started:
            headers = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                       for name, value in exc.headers.items()]
            body = render(exc.status_code, exc.message, exc.code, exc.field)
            await send_whole(send, exc.status_code, body, headers=headers)
    except Exception as exc:  # the last line of defence
        request_id = scope.get("state", {}).get("request_id")
        log.error("gateway.unhandled_error", error_type=type(exc).__name__, exc_info=exc)
        if not started:
            await send_whole(send, 500, render(
                500, f"Internal error (request id {request_id})", "internal_error", None))


async def until_disconnect(receive: Receive, handler: Awaitable[None]) -> bool:
    """Run ``handler`` (which must have read the request body already) in this task until it
    ends or the client disconnects; True when the client went away first.

    A disconnect cancels the handler, and cancelling it is what cancels the upstream request:
    the handler's ``finally`` closes the upstream response, which aborts that connection.
    Listening starts only after ``LISTEN_AFTER_S``: most answers are done by then and need no
    listener task at all, and a client that left earlier is still noticed at once then (the
    server remembers the disconnect).
    """
    task = asyncio.current_task()
    assert task is not None
    state = {"done": False, "gone": False}
    listeners: list[asyncio.Future[None]] = []

    def on_disconnect(listener: asyncio.Future[None]) -> None:
        if not state["done"] and not listener.cancelled() and listener.exception() is None:
            state["gone"] = True
            task.cancel()

    def listen() -> None:
        if not state["done"]:
            listener = asyncio.ensure_future(_disconnected(receive))
            listener.add_done_callback(on_disconnect)
            listeners.append(listener)

    # The task's loop, not get_running_loop(): on Python 3.11 that costs a getpid() each call.
    timer = task.get_loop().call_later(LISTEN_AFTER_S, listen)
    try:
        await handler
    except asyncio.CancelledError:
        if not state["gone"]:
            raise
        task.uncancel()
    finally:
        state["done"] = True
        timer.cancel()
        for listener in listeners:
            listener.cancel()
    return state["gone"]


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
