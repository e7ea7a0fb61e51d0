"""A lean HTTP/1.1 client for talking to model servers: keep-alive pools, streamed bodies.

The gateway's upstream side does one thing: send a request to an instance it already chose and
relay the answer. A general client (httpx) spent more CPU per request on that than everything
else in the gateway together, so this one is an ``asyncio.Protocol`` with the ``httptools``
parser (the one uvicorn uses), one pool of idle connections per origin, and nothing else.

Contract:

* :meth:`UpstreamClient.request` returns when the response head is in. It raises
  :class:`UpstreamUnreachable` when the instance never started on the request (connect failed,
  or the connection closed before any byte of the head), so another instance may be tried, and
  :class:`UpstreamTimeout` when the head took longer than ``read_timeout_s`` (or the request's
  own first-byte timeout).
* Interim ``1xx`` responses (``100 Continue``) are skipped: the answer is the final response.
  A body with neither ``content-length`` nor chunked encoding ends when the server closes
  the connection (which is then not reused).
* :meth:`UpstreamResponse.chunks` yields body bytes as they arrive (chunked encoding decoded);
  :class:`UpstreamBrokeOff` when the connection ends early, :class:`UpstreamTimeout` when no
  byte came for ``read_timeout_s`` (or the request's own idle timeout).
* :meth:`UpstreamResponse.close` must always be called: a fully read response gives its
  connection back to the pool; anything else aborts the connection, which is how the model
  server learns that nobody wants the rest (llama.cpp and Ollama stop generating).
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import urlsplit

import httptools

MAX_IDLE_PER_ORIGIN = 256


class UpstreamError(Exception):
    """Base of the client's errors."""


class UpstreamUnreachable(UpstreamError):
    """The instance did not start on the request: safe to try another one."""


class UpstreamTimeout(UpstreamError):
    """No byte of the answer arrived within the read timeout."""


class UpstreamBrokeOff(UpstreamError):
    """The connection ended in the middle of the answer."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a base URL points: how to connect and what to prefix request paths with."""

    scheme: str
    host: str
    port: int
    prefix: str  # the base URL's path, without a trailing slash
    host_header: bytes


@lru_cache(maxsize=4096)
def origin_of(base_url: str) -> Origin:
    """Parse an instance's base URL once (``http[s]://host[:port][/prefix]``)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Origin(parts.scheme, parts.hostname, port, parts.path.rstrip("/"),
                  parts.netloc.encode("idna"))


class _Connection(asyncio.Protocol):
    """One keep-alive connection; parses one response at a time. While a request is on it,
    ``deadline`` (loop time) is when it times out unless more bytes arrive."""

    def __init__(self, origin: Origin, read_timeout_s: float) -> None:
        self.origin = origin
        self.read_timeout_s = read_timeout_s
        self.loop = asyncio.get_running_loop()
        self.deadline = math.inf
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.head: asyncio.Future[None] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: deque[bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.complete = False
        self.keep_alive = False
        self.status = 0
        self.lost = False
        self.error: UpstreamError | None = None
        self.got_bytes = False
        self.interim = False  # the message being parsed is a 1xx (e.g. 100 Continue)
        self.until_eof = False  # the body has no length: it ends when the connection does

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.deadline = self.loop.time() + self.read_timeout_s
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamBrokeOff(f"invalid HTTP from the model server: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.until_eof and exc is None and self.error is None and not self.complete:
            self.complete = True  # a close-delimited body is whole when the server closes
            self._wake()
        elif self.head is not None and not self.head.done():
            self.head.set_exception(UpstreamUnreachable("connection closed before the answer"))
        elif not self.complete:
            self._wake()

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self.headers = []  # a final response after an interim one has its own headers

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        # Read now, like keep-alive below: the parser resets once the message completes.
        self.status = self.parser.get_status_code()
        self.interim = 100 <= self.status < 200
        if self.interim:
            return  # 100 Continue and friends: the answer is the response after it
        self.until_eof = _until_eof(self.status, self.headers)
        if self.head is not None and not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.until_eof = False
        self.complete = True
        # Asked now: the parser forgets the message (and answers False) once this returns.
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    # -- the client's side
    def start(self, request: bytes, first_byte_s: float, idle_s: float
              ) -> asyncio.Future[None]:
        """Send ``request``; the returned future resolves when the response head is in. It
        times out when no byte came for ``first_byte_s``, and then whenever none came for
        ``idle_s``."""
        assert self.transport is not None
        self.head = self.loop.create_future()
        self.read_timeout_s = idle_s
        self.deadline = self.loop.time() + first_byte_s
        self.headers = []
        self.body.clear()
        self.complete = False
        self.keep_alive = False
        self.got_bytes = False
        self.interim = self.until_eof = False
        self.transport.write(request)
        return self.head

    def reusable(self) -> bool:
        return (self.complete and not self.lost and self.transport is not None
                and not self.transport.is_closing() and self.keep_alive)

    def abort(self) -> None:
        self.deadline = math.inf
        if self.transport is not None:
            self.transport.abort()

    def expire(self) -> None:
        """The read timeout passed: fail whoever waits, and drop the connection."""
        what = "stopped sending" if self.got_bytes else "did not answer in time"
        self._fail(UpstreamTimeout(f"the model server {what}"))
        self.abort()

    def _fail(self, exc: UpstreamError) -> None:
        if self.head is not None and not self.head.done():
            self.head.set_exception(exc)
        self.error = exc
        self.lost = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class UpstreamResponse:
    """A response whose head has arrived; read it with :meth:`read` or :meth:`chunks`."""

    def __init__(self, client: UpstreamClient, conn: _Connection) -> None:
        self._client = client
        self._conn = conn
        self.status = conn.status
        self.headers = conn.headers
        self._closed = False

    def header(self, name: bytes, default: bytes = b"") -> bytes:
        """The first value of header ``name`` (lower case)."""
        for key, value in self.headers:
            if key == name:
                return value
        return default

    @property
    def completed(self) -> bool:
        """Whether the whole answer has arrived."""
        return self._conn.complete

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive, until the response is complete."""
        conn = self._conn
        while True:
            while conn.body:
                yield conn.body.popleft()
            if conn.complete:
                return
            if conn.error is not None:
                raise conn.error
            if conn.lost:
                raise UpstreamBrokeOff("the model server closed the connection mid-answer")
            conn.waiter = conn.loop.create_future()
            try:
                await conn.waiter  # fails with UpstreamTimeout when the sweep expires it
            finally:
                conn.waiter = None

    async def read(self) -> bytes:
        """The whole body."""
        return b"".join([chunk async for chunk in self.chunks()])

    def close(self) -> None:
        """Give the connection back when the answer was read to the end, else abort it."""
        if self._closed:
            return
        self._closed = True
        self._client.release(self._conn)


class UpstreamClient:
    """Keep-alive pools per origin (see the module doc)."""

    def __init__(self, connect_timeout_s: float, read_timeout_s: float) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._idle: dict[Origin, list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._ssl: ssl.SSLContext | None = None
        # Read timeouts are enforced by one periodic sweep over the busy connections rather
        # than a timer per request (cheaper; these timeouts are minutes, not milliseconds).
        self._sweep_s = min(1.0, read_timeout_s / 2)
        self._sweeper: asyncio.TimerHandle | None = None

    async def request(self, method: str, base_url: str, path: str, body: bytes = b"",
                      headers: tuple[tuple[str, str], ...] = (), *,
                      first_byte_timeout_s: float | None = None,
                      idle_timeout_s: float | None = None) -> UpstreamResponse:
        """Send ``method base_url+path`` and wait for the response head (see the module doc).
        The first byte must come within ``first_byte_timeout_s``, and later ones within
        ``idle_timeout_s`` of the previous (both default to the client's read timeout)."""
        origin = origin_of(base_url)
        head = _request_head(method, origin, path, len(body), headers)
        timeouts = (first_byte_timeout_s or self.read_timeout_s,
                    idle_timeout_s or self.read_timeout_s)
        self._sweep_s = min(self._sweep_s, *(t / 2 for t in timeouts))
        conn = self._idle_connection(origin)
        if conn is not None:
            try:
                return await self._exchange(conn, head + body, timeouts)
            except UpstreamUnreachable:
                if conn.got_bytes:
                    raise
                # The server closed the idle connection before it read ours: a fresh one
                # decides whether the instance is there.
        conn = await self._connect(origin)
        return await self._exchange(conn, head + body, timeouts)

    def release(self, conn: _Connection) -> None:
        """Pool ``conn`` if it can carry another request, else close it."""
        self._busy.discard(conn)
        conn.deadline = math.inf
        if conn.reusable():
            idle = self._idle.setdefault(conn.origin, [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(conn)
                return
        conn.abort()

    def close(self) -> None:
        """Close every idle connection (in-flight ones close with their responses)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for idle in self._idle.values():
            for conn in idle:
                conn.abort()
        self._idle.clear()

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.lost and conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        secure = self._ssl_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _transport, conn = await loop.create_connection(
                    lambda: _Connection(origin, self.read_timeout_s), origin.host, origin.port,
                    ssl=secure, server_hostname=origin.host if secure else None)
        except (OSError, TimeoutError) as exc:
            raise UpstreamUnreachable(f"cannot connect to {origin.host}:{origin.port}: "
                                      f"{exc or type(exc).__name__}") from exc
        return conn

    async def _exchange(self, conn: _Connection, request: bytes,
                        timeouts: tuple[float, float]) -> UpstreamResponse:
        head = conn.start(request, *timeouts)
        self._busy.add(conn)
        if self._sweeper is None:
            self._sweeper = conn.loop.call_later(self._sweep_s, self._sweep)
        try:
            await head  # fails with UpstreamTimeout when the sweep expires it
        except BaseException:
            self._busy.discard(conn)
            conn.abort()
            raise
        return UpstreamResponse(self, conn)

    def _sweep(self) -> None:
        """Expire busy connections past their deadline; runs while any are busy."""
        self._sweeper = None
        if not self._busy:
            return
        now = next(iter(self._busy)).loop.time()
        for conn in [c for c in self._busy if c.deadline <= now]:
            self._busy.discard(conn)
            conn.expire()
        self._sweeper = asyncio.get_running_loop().call_later(self._sweep_s, self._sweep)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl


def _until_eof(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a response's body is close-delimited: neither a length nor chunked encoding
    (HTTP/1.1 section 6.3, item 7), and a status that can have a body."""
    if status in (204, 304):
        return False
    return not any(name in (b"content-length", b"transfer-encoding") for name, _ in headers)


def _request_head(method: str, origin: Origin, path: str, length: int,
                  headers: tuple[tuple[str, str], ...]) -> bytes:
    lines = [f"{method} {origin.prefix}{path} HTTP/1.1".encode(),
             b"host: " + origin.host_header]
    if method not in ("GET", "HEAD") or length:
        lines.append(b"content-length: %d" % length)
    lines.extend(f"{name}: {value}".encode("latin-1") for name, value in headers)
    return b"\r\n".join(lines) + b"\r\n\r\n"
