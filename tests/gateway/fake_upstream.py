"""A scriptable OpenAI-style upstream for gateway tests, served by uvicorn on loopback.

Each path prefix is an "instance" (``<base>/<name>/v1``); the deployment's model name picks
the behaviour: ``slow`` streams an event every 50 ms for 10 s (and notes if it was cut off),
``dying`` streams two events and then drops the connection, anything else answers at once.
``/embeddings`` answers one two-dimensional vector with 3 prompt tokens. The native
``/<name>/api/<route>`` answers like Ollama: ``tags`` lists a model, ``chat`` streams three
NDJSON lines (7 prompt and 2 generated tokens), anything else ``{"status": "success"}``.
The prefix ``busy`` always answers 503, ``crash`` a llama.cpp-like 500 naming a server file,
``refuse`` a llama.cpp-like 400 naming one, ``overflow`` llama.cpp's 400 for a prompt over the
context, ``http<status>`` (e.g. ``http401``) that status with an error naming a server file
(OpenAI-style on ``/v1``, Ollama-style natively).
Every hit is counted per instance and native bodies are kept (``native_bodies``).

:func:`stalled_upstream` is a raw-socket server for what no framework does on cue: it accepts
and never answers (``"silent"``), or answers a stream's head and one event and then sends
nothing more (``"stops"``), holding the connection open until the test ends.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tiny_model import free_port

USAGE = {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}
CRASH_DETAIL = "llama_decode failed in /opt/secret/llama.cpp/src/llama-context.cpp:1234"


def _event(content: str) -> bytes:
    chunk = {"id": "f1", "object": "chat.completion.chunk", "created": 1, "model": "fake",
             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


@dataclass
class FakeUpstream:
    base_url: str
    hits: Counter[str] = field(default_factory=Counter)
    cut_off: threading.Event = field(default_factory=threading.Event)
    native_bodies: list[dict[str, Any]] = field(default_factory=list)

    def instance(self, name: str) -> str:
        """The OpenAI base URL of the instance called ``name``."""
        return f"{self.base_url}/{name}/v1"


def _app(fake: FakeUpstream) -> Starlette:
    async def slow() -> AsyncIterator[bytes]:
        finished = False
        try:
            for i in range(200):
                yield _event(f"t{i}")
                await asyncio.sleep(0.05)
            finished = True
            yield b"data: [DONE]\n\n"
        finally:
            if not finished:
                fake.cut_off.set()

    async def dying() -> AsyncIterator[bytes]:
        yield _event("a")
        yield _event("b")
        raise RuntimeError("upstream died mid-stream")

    async def chat(request: Request) -> Response:
        name = request.path_params["name"]
        fake.hits[name] += 1
        if name == "busy":
            return JSONResponse({"error": "busy"}, status_code=503)
        if name == "crash":
            return JSONResponse({"error": {"message": CRASH_DETAIL, "code": 500}},
                                status_code=500)
        if name.startswith("http"):
            return JSONResponse({"error": {"message": CRASH_DETAIL, "type": "x"}},
                                status_code=int(name[4:]))
        if name in ("refuse", "overflow"):
            kind = "exceed_context_size_error" if name == "overflow" else "invalid_request_error"
            return JSONResponse({"error": {"message": CRASH_DETAIL, "code": 400, "type": kind}},
                                status_code=400)
        body = json.loads(await request.body())
        if body["model"] == "slow":
            return StreamingResponse(slow(), media_type="text/event-stream")
        if body["model"] == "dying":
            return StreamingResponse(dying(), media_type="text/event-stream")
        return JSONResponse({"id": "f1", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                 "role": "assistant", "content": "hi"}}], "usage": USAGE})

    async def embeddings(request: Request) -> Response:
        fake.hits[request.path_params["name"]] += 1
        body = json.loads(await request.body())
        return JSONResponse({"object": "list", "model": body["model"], "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "usage": {"prompt_tokens": 3, "total_tokens": 3}})

    async def native(request: Request) -> Response:
        name, route = request.path_params["name"], request.path_params["route"]
        fake.hits[f"{name}:{route}"] += 1
        if request.method == "POST":
            fake.native_bodies.append(json.loads(await request.body()))
        if name == "crash" or name.startswith("http"):
            status = 500 if name == "crash" else int(name[4:])
            return JSONResponse({"error": CRASH_DETAIL}, status_code=status)
        if route == "tags":
            return JSONResponse({"models": [{"name": "fake:1b", "model": "fake:1b"}]})
        if route == "chat":
            lines = [{"message": {"role": "assistant", "content": "he"}, "done": False},
                     {"message": {"role": "assistant", "content": "y"}, "done": False},
                     {"message": {"role": "assistant", "content": ""}, "done": True,
                      "prompt_eval_count": 7, "eval_count": 2}]
            body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
            return Response(body, media_type="application/x-ndjson")
        return JSONResponse({"status": "success"})

    return Starlette(routes=[Route("/{name}/v1/chat/completions", chat, methods=["POST"]),
                             Route("/{name}/v1/embeddings", embeddings, methods=["POST"]),
                             Route("/{name}/api/{route}", native,
                                   methods=["GET", "POST", "DELETE"])])


@contextmanager
def fake_upstream() -> Iterator[FakeUpstream]:
    port = free_port()
    fake = FakeUpstream(f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(_app(fake), host="127.0.0.1", port=port,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "fake upstream did not start"
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(10)


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
               b"transfer-encoding: chunked\r\n\r\n")


@contextmanager
def stalled_upstream(how: Literal["silent", "stops"]) -> Iterator[str]:
    """A raw TCP "instance" that stalls (see the module doc); yields its OpenAI base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    done = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)
            conn.settimeout(5)
            try:
                conn.recv(65536)  # the request (small enough for one read)
                if how == "stops":
                    event = _event("a")
                    conn.sendall(STREAM_HEAD + b"%x\r\n%s\r\n" % (len(event), event))
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        done.set()
        thread.join(5)
        listener.close()
        for conn in held:
            conn.close()
