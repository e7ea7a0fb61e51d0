"""Request bodies are bounded in size (declared and streamed) and in arrival time, on every
control-plane route, before any handler holds them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from flowllama.api.body_limit import BodyLimitMiddleware

LIMIT = 1024 * 1024
CHUNK = 64 * 1024


class RecordingApp:
    """Reads the whole body like a handler would, and records what it got."""

    def __init__(self) -> None:
        self.bytes_seen: list[int] = []
        self.completed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.bytes_seen.append(size)
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        self.bytes_seen.append(size)
        self.completed += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _client(app: RecordingApp, timeout_s: float = 30.0) -> httpx.AsyncClient:
    wrapped = BodyLimitMiddleware(app, max_bytes=LIMIT, timeout_s=timeout_s)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t")


def test_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    app = RecordingApp()

    async def go() -> httpx.Response:
        async with _client(app) as client:
            return await client.post("/", content=b"x" * (LIMIT + 1))

    response = asyncio.run(go())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert app.bytes_seen == []


def test_concurrent_streamed_uploads_are_cut_off_at_the_limit() -> None:
    app = RecordingApp()
    sent: list[int] = []

    async def upload(index: int) -> int:
        sent.append(0)

        async def body() -> AsyncIterator[bytes]:  # chunked: declares no length
            for _ in range(100 * 1024 * 1024 // CHUNK):  # 100 MB offered
                sent[index] += CHUNK
                yield b"x" * CHUNK

        async with _client(app) as client:
            response = await client.post("/", content=body())
            return response.status_code

    async def go() -> list[int]:
        return list(await asyncio.gather(*(upload(i) for i in range(6))))

    assert asyncio.run(go()) == [413] * 6
    assert app.completed == 0
    assert all(seen <= LIMIT for seen in app.bytes_seen)
    assert all(offered <= LIMIT + 2 * CHUNK for offered in sent)  # the rest was never read


def test_a_body_within_the_limit_passes() -> None:
    app = RecordingApp()

    async def go() -> httpx.Response:
        async with _client(app) as client:
            return await client.post("/", content=b"x" * LIMIT)

    assert asyncio.run(go()).status_code == 200
    assert app.bytes_seen == [LIMIT]


def test_a_body_that_stalls_gets_408() -> None:
    app = RecordingApp()

    async def body() -> AsyncIterator[bytes]:
        yield b"{"
        await asyncio.sleep(3600)  # never finishes
        yield b"}"

    async def go() -> httpx.Response:
        async with _client(app, timeout_s=0.2) as client:
            return await client.post("/", content=body())

    response = asyncio.run(asyncio.wait_for(go(), 30))
    assert response.status_code == 408
    assert response.json()["error"]["code"] == "request_timeout"
    assert app.completed == 0


def test_every_control_plane_route_is_bounded(client: TestClient) -> None:
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    for path in ("/api/auth/login", "/api/auth/register", "/api/deployments", "/api/keys"):
        response = client.post(path, content=big, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, path
        assert response.json()["error"]["code"] == "payload_too_large"


def test_the_gateway_keeps_its_own_larger_limit(client: TestClient) -> None:
    body = b'{"model": "x", "messages": [], "pad": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/v1/chat/completions", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 401  # refused for the missing key, not for the size
