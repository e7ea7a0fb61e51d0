"""Turn an opened upstream response into the client's response: whole, or streamed.

A whole answer is read, metered from its ``usage`` and passed on with the instance's status.
A stream is relayed event by event (:class:`~flowllama.gateway.sse.StreamRelay`); when the
client goes away the relay is cancelled and the upstream response closed at once, which makes
the runtime stop generating; when the upstream breaks off, the client gets an error event.
Either way the usage seen so far is recorded. A stream that stalls (no byte for the idle
timeout) ends with an error event too.

The runtime's own error answers never reach the client as they are: their text can name the
server's files (llama.cpp's grammar and template errors do). A refusal the client caused and
can act on (400, 413, 422, 429: :data:`~flowllama.gateway.proxy.CLIENT_REFUSALS`) keeps its
status with a fixed message ("the model server refused the request"); anything else (a 5xx, or
a 4xx such as a runtime's 401 after its key was rotated, which an OpenAI client would blame on
the user's own key) becomes a generic 502 ``upstream_error`` and a breaker failure. Both are in
the OpenAI envelope with the request id; the detail is logged (cut short) under that id. One
refusal keeps its meaning: a prompt over the context is answered 400
``context_length_exceeded``, as OpenAI answers it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable

from starlette.types import Send

from flowllama.errors import ClientError
from flowllama.gateway.counting import Usage, usage_of
from flowllama.gateway.proxy import GatewayTimeout, Opened, UpstreamBroke, upstream_fault
from flowllama.gateway.sse import StreamRelay, error_event
from flowllama.gateway.upstream import UpstreamBrokeOff, UpstreamError, UpstreamTimeout
from flowllama.gateway.wire import send_stream, send_whole
from flowllama.logging import get_logger

log = get_logger(__name__)

UsageSink = Callable[[Usage], None]
STREAM_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))
MAX_LOGGED_DETAIL = 2000


async def read_whole(opened: Opened) -> bytes:
    """The instance's whole answer; the upstream response is closed either way."""
    try:
        return await opened.response.read()
    except UpstreamTimeout as exc:
        opened.fail("timeout")
        raise GatewayTimeout("The model server did not finish in time") from exc
    except UpstreamBrokeOff as exc:
        opened.fail("broken")
        raise UpstreamBroke("The model server broke off its answer") from exc
    finally:
        opened.close()


class UpstreamRefused(ClientError):
    """The model server refused the request (its status, one of ``CLIENT_REFUSALS``; a fixed
    message)."""

    code = "upstream_refused"

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status_code = status


# Error types of llama.cpp's server whose meaning (never its text) the client gets.
_KNOWN_REFUSALS = {"exceed_context_size_error": (
    "context_length_exceeded", "The request exceeds the deployment's context size")}


def failed_upstream(opened: Opened, content: bytes) -> UpstreamBroke:
    """The generic 502 for a runtime's failed answer (:func:`upstream_fault`); its ``content``
    is logged, not passed on."""
    _log_upstream_error(opened, content)
    return UpstreamBroke(f"The model server failed to answer (request id "
                         f"{opened.request_id or 'unknown'})")


def refused_upstream(opened: Opened, content: bytes) -> UpstreamRefused:
    """The error for a runtime's refusal the client can act on: its status, a fixed message
    with the request id (or the meaning of a known error type), and the detail logged."""
    _log_upstream_error(opened, content)
    code, message = _KNOWN_REFUSALS.get(_error_type(content), (
        None, f"The model server refused the request (HTTP {opened.response.status})"))
    return UpstreamRefused(opened.response.status,
                           f"{message} (request id {opened.request_id or 'unknown'})", code=code)


def _error_type(content: bytes) -> str:
    """``error.type`` of an OpenAI-style error body, else ""."""
    try:
        error = json.loads(content).get("error")
    except (ValueError, AttributeError):
        return ""
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else ""


def _log_upstream_error(opened: Opened, content: bytes) -> None:
    log.warning("gateway.upstream_error", status=opened.response.status,
                instance_id=opened.upstream.instance_id,
                deployment_id=opened.upstream.deployment_id, request_id=opened.request_id,
                detail=content[:MAX_LOGGED_DETAIL].decode("utf-8", "replace"))


async def whole(send: Send, opened: Opened, on_usage: UsageSink) -> None:
    """Read the instance's answer and pass it on; meter it when it succeeded."""
    content = await read_whole(opened)
    status = opened.response.status
    if upstream_fault(status):
        raise failed_upstream(opened, content)
    if status >= 400:
        raise refused_upstream(opened, content)
    if 200 <= status < 300:
        try:
            usage = usage_of(json.loads(content))
        except ValueError:
            usage = None
        on_usage(usage or Usage(0, 0, exact=False))
    await send_whole(send, status, content,
                     opened.response.header(b"content-type", b"application/json"))


async def streamed(send: Send, opened: Opened, relay: StreamRelay, on_usage: UsageSink) -> None:
    """Relay the instance's event stream; an error answer (not a stream) is passed on whole."""
    if opened.response.status != 200:
        await whole(send, opened, lambda _usage: None)
        return
    await send_stream(send, 200, b"text/event-stream", STREAM_HEADERS,
                      _relay(opened, relay, on_usage))


async def _relay(opened: Opened, relay: StreamRelay, on_usage: UsageSink
                 ) -> AsyncGenerator[bytes, None]:
    try:
        async for chunk in opened.response.chunks():
            out = relay.feed(chunk)
            if out:
                opened.relayed()
                yield out
        rest = relay.leftover()
        if rest:
            yield rest
        if not relay.finished:
            opened.fail("broken")
            yield error_event("The model server ended the stream early", "upstream_error")
    except UpstreamError as exc:
        opened.fail("stalled" if isinstance(exc, UpstreamTimeout) else "broken")
        log.warning("gateway.stream_broken", instance_id=opened.upstream.instance_id,
                    error=type(exc).__name__, request_id=opened.request_id)
        if isinstance(exc, UpstreamTimeout):
            yield error_event("The model server stopped sending", "upstream_timeout")
        else:
            yield error_event("The model server broke off the stream", "upstream_error")
    finally:
        opened.close()
        on_usage(relay.usage())
