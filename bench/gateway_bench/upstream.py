"""The fake upstream: a minimal keep-alive HTTP/1.1 server (an ``asyncio.Protocol`` with
``httptools``, on uvloop when importable) answering a fixed chat completion, or for ``"stream":
true`` an SSE stream of 8 content events, a usage event when ``stream_options.include_usage`` is
asked, then ``data: [DONE]``. Run by ``gateway.py --serve-upstream PORT``."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import cast

CHAT = json.dumps({
    "id": "b1", "object": "chat.completion", "created": 1, "model": "bench",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hello there"}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13}},
    separators=(",", ":")).encode()
EVENT = (b'data: {"id":"b1","object":"chat.completion.chunk","created":1,"model":"bench",'
         b'"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n')
USAGE_EVENT = (b'data: {"id":"b1","object":"chat.completion.chunk","created":1,"model":"bench",'
               b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":8,'
               b'"total_tokens":13}}\n\n')
DONE_EVENT = b"data: [DONE]\n\n"
MODELS = b'{"object":"list","data":[{"id":"bench","object":"model","owned_by":"bench"}]}'
# Clients differ in JSON spacing (``"stream":true`` vs ``"stream": true``).
STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
USAGE_RE = re.compile(rb'"include_usage"\s*:\s*true')


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


# Whole responses are prebuilt: the upstream should cost next to nothing per request.
CHAT_RESPONSE = _response(b"200 OK", b"application/json", CHAT)
MODELS_RESPONSE = _response(b"200 OK", b"application/json", MODELS)
NOT_FOUND = _response(b"404 Not Found", b"application/json", b'{"error":"not found"}')
_SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n")
STREAM_RESPONSE = _SSE_HEAD + _chunk(EVENT) * 8 + _chunk(DONE_EVENT) + b"0\r\n\r\n"
STREAM_USAGE_RESPONSE = (_SSE_HEAD + _chunk(EVENT) * 8 + _chunk(USAGE_EVENT) + _chunk(DONE_EVENT)
                         + b"0\r\n\r\n")


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection to the fake upstream (httptools parses requests)."""

    def __init__(self) -> None:
        import httptools

        self._parser = httptools.HttpRequestParser(self)
        self._error = httptools.HttpParserError
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not subclass asyncio's.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except self._error:
            assert self._transport is not None
            self._transport.write(_response(b"400 Bad Request", b"text/plain", b"bad request"))
            self._transport.close()

    def on_message_begin(self) -> None:
        self._url = b""
        self._body.clear()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        self._transport.write(self._answer(self._parser.get_method(), self._url.split(b"?")[0]))
        if not self._parser.should_keep_alive():
            self._transport.close()

    def _answer(self, method: bytes, path: bytes) -> bytes:
        if method == b"POST" and path.endswith(b"/chat/completions"):
            body = b"".join(self._body)
            if STREAM_RE.search(body) is None:
                return CHAT_RESPONSE
            return STREAM_USAGE_RESPONSE if USAGE_RE.search(body) else STREAM_RESPONSE
        if method == b"GET" and path in (b"/", b"/v1", b"/v1/models", b"/models"):
            return MODELS_RESPONSE
        return NOT_FOUND


def serve_upstream(port: int) -> None:
    """Run the fake upstream on 127.0.0.1:``port`` until killed (uvloop when importable)."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(UpstreamProtocol, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve())
