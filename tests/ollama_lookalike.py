"""A small real HTTP server that answers like an Ollama behind an authenticating proxy.

For tests of external servers (``cloud: external``) where the Ollama binary cannot run: uvicorn
on loopback serving ``/api/tags``, ``/api/chat`` (NDJSON, or one object for ``"stream":
false``, with Ollama's token counts), ``/v1/models`` and ``/v1/chat/completions`` (plain, or
SSE with a usage event when asked). When
built with a ``secret`` every request without ``Authorization: Bearer <secret>`` gets 401, as
a proxy in front of Ollama would answer. Every request's path and authorization are recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tiny_model import free_port

MODEL = "lookalike:1b"
PROMPT_TOKENS, COMPLETION_TOKENS = 9, 3


@dataclass
class Lookalike:
    """A running lookalike: its root URL and what it saw."""

    base_url: str
    secret: str | None
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    server: uvicorn.Server | None = None

    def paths(self) -> list[str]:
        return [path for path, _auth in self.seen]


def _app(state: Lookalike) -> Starlette:
    async def guard(request: Request) -> Response | None:
        auth = request.headers.get("authorization")
        state.seen.append((request.url.path, auth))
        if state.secret is not None and auth != f"Bearer {state.secret}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return None

    async def tags(request: Request) -> Response:
        return await guard(request) or JSONResponse(
            {"models": [{"name": MODEL, "model": MODEL, "size": 1000}]})

    async def models(request: Request) -> Response:
        return await guard(request) or JSONResponse(
            {"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def native_chat(request: Request) -> Response:
        refused = await guard(request)
        if refused is not None:
            return refused
        body = await request.json()
        if body.get("stream") is False:
            return JSONResponse({"model": body["model"], "done": True, "done_reason": "stop",
                                 "message": {"role": "assistant", "content": "hello there"},
                                 "prompt_eval_count": PROMPT_TOKENS,
                                 "eval_count": COMPLETION_TOKENS})

        async def lines() -> AsyncIterator[bytes]:
            for word in ("hello", " there"):
                yield json.dumps({"model": body["model"], "done": False,
                                  "message": {"role": "assistant", "content": word}}).encode()
                yield b"\n"
            yield json.dumps({"model": body["model"], "done": True, "done_reason": "stop",
                              "prompt_eval_count": PROMPT_TOKENS,
                              "eval_count": COMPLETION_TOKENS}).encode() + b"\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    async def chat(request: Request) -> Response:
        refused = await guard(request)
        if refused is not None:
            return refused
        body = await request.json()
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                 "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}
        base = {"id": "chatcmpl-1", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            return JSONResponse({**base, "object": "chat.completion", "usage": usage,
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant",
                                                          "content": "hello there"}}]})

        async def events() -> AsyncIterator[bytes]:
            chunk = {**base, "object": "chat.completion.chunk"}
            for word in ("hello", " there"):
                data = {**chunk, "choices": [{"index": 0, "delta": {"content": word}}]}
                yield f"data: {json.dumps(data)}\n\n".encode()
            if (body.get("stream_options") or {}).get("include_usage"):
                yield f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[
        Route("/api/tags", tags), Route("/api/chat", native_chat, methods=["POST"]),
        Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"]),
    ])


@contextmanager
def ollama_lookalike(secret: str | None = None) -> Iterator[Lookalike]:
    """Serve a lookalike on a free loopback port until the block ends."""
    port = free_port()
    state = Lookalike(f"http://127.0.0.1:{port}", secret)
    server = uvicorn.Server(uvicorn.Config(_app(state), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    state.server = server
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "lookalike did not start"
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(20)
