"""The gateway's HTTP/1.1 client against a scripted raw TCP server on loopback.

The server reads one request head and body at a time and answers with whatever the test
scripted for it (raw bytes, so broken answers can be sent), which shows the client's contract:
keep-alive reuse, a fresh connection when the server dropped an idle one, which failures are
"unreachable" (safe to retry elsewhere), chunked bodies, timeouts, and aborting an unread
answer.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from flowllama.gateway.upstream import (
    UpstreamBrokeOff,
    UpstreamClient,
    UpstreamTimeout,
    UpstreamUnreachable,
    origin_of,
)

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
CLOSE = b"<close>"  # an answer ending with this is sent without it, then the server hangs up


@dataclass
class Server:
    """Counts connections and requests; ``answer`` turns a request into raw response bytes
    (ending in ``CLOSE`` to hang up after them), or None to hang up without answering."""

    answer: Callable[[bytes], bytes | None]
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.answer(request)
                if answer is None:
                    break
                writer.write(answer.removesuffix(CLOSE))
                await writer.drain()
                if answer.endswith(CLOSE):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()
            writer.close()


@asynccontextmanager
async def serving(answer: Callable[[bytes], bytes | None]) -> AsyncIterator[Server]:
    server = Server(answer)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}/v1"
    async with listener:
        yield server


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_origin_of_parses_once_and_rejects_other_schemes() -> None:
    origin = origin_of("https://models.example.com/v1/")
    assert (origin.host, origin.port, origin.prefix) == ("models.example.com", 443, "/v1")
    assert origin_of("http://127.0.0.1:8080").prefix == ""
    with pytest.raises(ValueError):
        origin_of("ftp://example.com")


def test_requests_reuse_one_keep_alive_connection() -> None:
    async def scenario() -> None:
        async with serving(lambda _request: OK) as server:
            client = UpstreamClient(2, 2)
            for _ in range(3):
                response = await client.request("POST", server.url, "/chat/completions",
                                                b'{"a":1}', (("x-request-id", "r1"),))
                assert response.status == 200 and await response.read() == b"{}"
                assert response.header(b"content-type") == b"application/json"
                response.close()
            assert server.connections == 1
            first = server.requests[0]
            assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
            assert b"x-request-id: r1\r\n" in first and first.endswith(b'{"a":1}')
            client.close()

    run(scenario())


def test_a_dropped_idle_connection_is_replaced_transparently() -> None:
    async def scenario() -> None:
        answers = iter([OK, None, OK])  # the 2nd request finds the server closing on it
        async with serving(lambda _request: next(answers)) as server:
            client = UpstreamClient(2, 2)
            (await client.request("POST", server.url, "/x", b"{}")).close()
            response = await client.request("POST", server.url, "/x", b"{}")
            assert response.status == 200
            response.close()
            assert server.connections == 2

    run(scenario())


def test_refused_connect_and_close_before_head_are_unreachable() -> None:
    async def scenario() -> None:
        client = UpstreamClient(2, 2)
        with pytest.raises(UpstreamUnreachable):
            await client.request("GET", "http://127.0.0.1:9/v1", "/models")
        async with serving(lambda _request: None) as server:
            with pytest.raises(UpstreamUnreachable):
                await client.request("POST", server.url, "/x", b"{}")

    run(scenario())


def test_chunked_stream_arrives_piece_by_piece_and_a_cut_is_broke_off() -> None:
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n")

    async def scenario() -> None:
        async with serving(lambda _r: head + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") as server:
            client = UpstreamClient(2, 2)
            response = await client.request("POST", server.url, "/x", b"{}")
            assert b"".join([c async for c in response.chunks()]) == b"abcde"
            response.close()
        async with serving(lambda _r: head + b"3\r\nabc\r\n") as server:
            response = await client.request("POST", server.url, "/x", b"{}")
            with pytest.raises(UpstreamTimeout):  # the server keeps the connection open
                await asyncio.wait_for(response.read(), 5)
            response.close()
            await asyncio.wait_for(server.closed.wait(), 5)  # closing an unread answer aborts

    run(scenario())


def test_a_connection_lost_mid_body_is_broke_off() -> None:
    async def scenario() -> None:
        cut = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc" + CLOSE
        async with serving(lambda _r: cut) as server:
            client = UpstreamClient(2, 5)
            response = await client.request("POST", server.url, "/x", b"{}")
            with pytest.raises(UpstreamBrokeOff):
                await asyncio.wait_for(response.read(), 10)
            response.close()

    run(scenario())


def test_a_slow_head_times_out() -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def never(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await release.wait()
            writer.close()

        listener = await asyncio.start_server(never, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        client = UpstreamClient(2, 0.2)
        with pytest.raises(UpstreamTimeout):
            await client.request("POST", f"http://127.0.0.1:{port}", "/x", b"{}")
        release.set()
        listener.close()

    run(scenario())


async def _raw_server(script: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                       Awaitable[None]]) -> tuple[asyncio.Server, str]:
    listener = await asyncio.start_server(script, "127.0.0.1", 0)
    return listener, f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/v1"


def test_a_100_continue_in_its_own_packet_is_skipped() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\nx-interim: 1\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)  # so the final answer comes in another packet
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()
        writer.close()

    async def scenario() -> None:
        listener, url = await _raw_server(script)
        async with listener:
            client = UpstreamClient(2, 5)
            response = await client.request("POST", url, "/x", b"{}")
            assert response.status == 201 and response.header(b"x-interim") == b""
            assert await response.read() == b"ok"
            response.close()
            client.close()

    run(scenario())


def test_a_close_delimited_body_ends_at_eof() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"a\":")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"1}")
        await writer.drain()
        writer.close()  # the end of the body

    async def scenario() -> None:
        listener, url = await _raw_server(script)
        async with listener:
            client = UpstreamClient(2, 5)
            for _ in range(2):  # the closed connection is not reused for the second
                response = await client.request("POST", url, "/x", b"{}")
                assert response.status == 200
                assert await asyncio.wait_for(response.read(), 5) == b'{"a":1}'
                assert response.completed
                response.close()
            client.close()

    run(scenario())


def test_a_close_delimited_body_reset_midway_is_broke_off() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n{\"a\":")
        await writer.drain()
        await asyncio.sleep(0.2)
        # Linger 0: closing sends a reset (RST), not a clean end (FIN).
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                   struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def scenario() -> None:
        listener, url = await _raw_server(script)
        async with listener:
            client = UpstreamClient(2, 5)
            response = await client.request("POST", url, "/x", b"{}")
            with pytest.raises(UpstreamBrokeOff):
                await asyncio.wait_for(response.read(), 5)
            response.close()

    run(scenario())


def test_first_byte_and_idle_timeouts_apply_per_request() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n")
        await writer.drain()
        await reader.read()  # and nothing more

    async def scenario() -> None:
        listener, url = await _raw_server(script)
        async with listener:
            client = UpstreamClient(2, 600)  # the default would wait ten minutes
            response = await client.request("POST", url, "/x", b"{}",
                                            first_byte_timeout_s=5, idle_timeout_s=0.3)
            pieces = []
            with pytest.raises(UpstreamTimeout):
                async for piece in response.chunks():
                    pieces.append(piece)
            assert pieces == [b"a"]
            response.close()

    run(scenario())
