"""Turn an opened upstream response into the client's response: whole, or streamed.

A whole answer is read, metered from its ``usage`` and passed on with the instance's status.
A stream is relayed event by event (:class:`~flowllama.gateway.sse.StreamRelay`); when the
client goes away the relay is cancelled and the upstream response closed at once, which makes
the runtime stop generating; when the upstream breaks off, the client gets an error event.
Either way the usage seen so far is recorded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
from starlette.responses import Response, StreamingResponse

from flowllama.gateway.counting import Usage, usage_of
from flowllama.gateway.proxy import Opened, UpstreamBroke, UpstreamTimeout
from flowllama.gateway.sse import StreamRelay, error_event
from flowllama.logging import get_logger

log = get_logger(__name__)

UsageSink = Callable[[Usage], None]
STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def whole(opened: Opened, on_usage: UsageSink) -> Response:
    """Read the instance's answer and pass it on; meter it when it succeeded."""
    try:
        content = await opened.response.aread()
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout("The model server did not finish in time") from exc
    except httpx.HTTPError as exc:
        raise UpstreamBroke("The model server broke off its answer") from exc
    finally:
        await opened.aclose()
    status = opened.response.status_code
    if 200 <= status < 300:
        try:
            usage = usage_of(json.loads(content))
        except ValueError:
            usage = None
        on_usage(usage or Usage(0, 0, exact=False))
    return Response(content, status_code=status,
                    media_type=opened.response.headers.get("content-type", "application/json"))


async def streamed(opened: Opened, relay: StreamRelay, on_usage: UsageSink) -> Response:
    """Relay the instance's event stream; an error answer (not a stream) is passed on whole."""
    if opened.response.status_code != 200:
        return await whole(opened, lambda _usage: None)
    return StreamingResponse(_relay(opened, relay, on_usage), media_type="text/event-stream",
                             headers=STREAM_HEADERS)


async def _relay(opened: Opened, relay: StreamRelay, on_usage: UsageSink
                 ) -> AsyncIterator[bytes]:
    try:
        async for chunk in opened.response.aiter_raw():
            out = relay.feed(chunk)
            if out:
                yield out
        rest = relay.leftover()
        if rest:
            yield rest
        if not relay.finished:
            yield error_event("The model server ended the stream early", "upstream_error")
    except httpx.HTTPError as exc:
        log.warning("gateway.stream_broken", instance_id=opened.upstream.instance_id,
                    error=type(exc).__name__)
        yield error_event("The model server broke off the stream", "upstream_error")
    finally:
        await opened.aclose()
        on_usage(relay.usage())
