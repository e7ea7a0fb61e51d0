"""The keyed front of an isolated runtime, and the socket plumbing its supervisor serves with.

A runtime that cannot check the deployment's runtime key itself (Ollama has no API keys) runs in
a private network namespace (:mod:`.isolation`), where its TCP port cannot be reached from this
host. Its supervisor (:mod:`.supervisor`) then serves two listeners:

* **The front**, on the runtime's advertised loopback port: it reads a connection's request
  head, answers 401 unless it carries ``Authorization: Bearer <runtime key>`` (exactly one such
  header, compared in constant time), and otherwise relays the connection's bytes, both ways and
  as they come (NDJSON and SSE streams pass chunk by chunk), to the runtime through a Unix socket
  in the provisioner's private (0700) directory. The key is checked on a connection's first
  request: later requests on the same keep-alive connection come from the same peer, which
  already proved it holds the key.
* **The egress** (:mod:`.egress`), on a Unix socket next to it: the runtime's way out for model
  pulls.

Who holds a thread: a connection whose request head is not complete yet is *pending*. At most
``MAX_PENDING`` are pending per listener, each for at most ``HEAD_TIMEOUT_S`` in all (however
slowly its bytes come); when a new connection arrives with the pending pool full, the oldest
pending one is closed to make room. So any local user can hold at most that many threads, for
at most that long, and cannot lock the gateway out: the gateway sends its head with the
connection, so its head is read at once. A connection that showed the key leaves the pending
pool and is not counted by the front at all: its peers bound themselves (the gateway takes at
most ``parallel x inflight_per_slot`` connections per instance and gateway process, see
docs/gateway.md), so no front-side cap can fall below theirs and close the gateway's connections.

Standard library only: it runs inside the supervisor, which must start in milliseconds.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import socket
import threading
import time
from collections.abc import Callable

KEY_ENV = "FLOWLLAMA_RUNTIME_KEY"  # how the provisioner hands the key to the supervisor
BUFFER_BYTES = 64 * 1024
HEAD_LIMIT_BYTES = 32 * 1024
HEAD_TIMEOUT_S = 30.0  # for a whole request head, not per read
MAX_PENDING = 64  # connections whose head is not read yet, per listener
MAX_CONNECTIONS = 256  # default cap of :func:`serve` (connections of any kind at once)

Handler = Callable[[socket.socket], None]
# Gets the connection, its request head and what was read after the head.
HeadHandler = Callable[[socket.socket, bytes, bytes], None]


class HeadError(Exception):
    """The peer sent no complete request head (too long, too slow, or it closed)."""


def read_head(conn: socket.socket, timeout_s: float | None = None) -> tuple[bytes, bytes]:
    """(the request head up to and including its blank line, bytes already read after it).

    Raises ``HeadError`` when the head is over ``HEAD_LIMIT_BYTES`` or the peer closes first,
    and when the whole head takes longer than ``timeout_s`` (default ``HEAD_TIMEOUT_S``): each
    read waits only for what is left of that one deadline, so a trickled head cannot hold a
    thread longer.
    """
    deadline = time.monotonic() + (HEAD_TIMEOUT_S if timeout_s is None else timeout_s)
    data = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HeadError("request head not complete in time")
            conn.settimeout(left)
            chunk = conn.recv(BUFFER_BYTES)
            if not chunk:
                raise HeadError("closed before the end of the request head")
            data += chunk
            end = data.find(b"\r\n\r\n")
            if (end + 4 if end >= 0 else len(data)) > HEAD_LIMIT_BYTES:
                raise HeadError("request head too large")
            if end >= 0:
                return data[:end + 4], data[end + 4:]
    except OSError as exc:  # socket.timeout included
        raise HeadError(str(exc)) from exc
    finally:
        with contextlib.suppress(OSError):
            conn.settimeout(None)  # a stream may stay silent for long (a model loading)


def header_values(head: bytes, name: bytes) -> list[bytes]:
    """Every value of header ``name`` (case-insensitive) in ``head``, stripped."""
    values = []
    for line in head.split(b"\r\n")[1:]:
        field, sep, value = line.partition(b":")
        if sep and field.strip().lower() == name.lower():
            values.append(value.strip())
    return values


def bearer_matches(head: bytes, key: bytes) -> bool:
    """Whether ``head`` has exactly one ``Authorization`` header and it is ``Bearer <key>``."""
    values = header_values(head, b"authorization")
    return len(values) == 1 and hmac.compare_digest(values[0], b"Bearer " + key)


def answer(conn: socket.socket, status: str, message: str) -> None:
    """Send a small JSON error (``{"error": message}``) and close the connection."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with contextlib.suppress(OSError):
        conn.sendall(head + body)
    conn.close()


def connect_unix(path: str) -> socket.socket | None:
    """A stream connection to the Unix socket ``path``, or None when nothing listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def relay(client: socket.socket, upstream: socket.socket, first: bytes = b"") -> None:
    """Copy bytes both ways until both directions end, then close both sockets.

    ``first`` goes upstream before anything else (what was read to check the head). Each chunk
    is passed on as soon as it arrives, so streamed answers are never held back.
    """
    try:
        if first:
            upstream.sendall(first)
        back = threading.Thread(target=_copy, args=(upstream, client, True), daemon=True)
        back.start()
        _copy(client, upstream, False)
        back.join()
    except OSError:
        pass
    finally:
        client.close()
        upstream.close()


def _copy(source: socket.socket, target: socket.socket, answers: bool) -> None:
    """One direction of :func:`relay`. When the answering side ends, the connection is over:
    both sockets are shut so the other direction ends too."""
    try:
        while data := source.recv(BUFFER_BYTES):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
        if answers:
            source.shutdown(socket.SHUT_RDWR)
            target.shutdown(socket.SHUT_RDWR)
    except OSError:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def serve(listener: socket.socket, handle: Handler, name: str,
          limit: int | None = MAX_CONNECTIONS) -> threading.Thread:
    """Accept on ``listener`` in a daemon thread, each connection handled in its own; beyond
    ``limit`` at once (None: no limit) a new connection is closed at once."""
    slots = threading.BoundedSemaphore(limit) if limit is not None else None

    def run(conn: socket.socket) -> None:
        try:
            handle(conn)
        finally:
            if slots is not None:
                slots.release()

    def accept() -> None:
        while True:
            try:
                conn, _address = listener.accept()
            except OSError:
                return  # the listener was closed
            if slots is not None and not slots.acquire(blocking=False):
                conn.close()
                continue
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, name=name, daemon=True)
    thread.start()
    return thread


class _Pending:
    """The connections of one listener whose head is still being read, oldest first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lock = threading.Lock()
        self.conns: dict[socket.socket, None] = {}

    def enter(self, conn: socket.socket) -> None:
        """Count ``conn`` in; when the pool is full, the oldest pending one is shut first (its
        reader then ends with a ``HeadError``)."""
        with self.lock:
            while len(self.conns) >= max(1, self.limit):
                oldest = next(iter(self.conns))
                del self.conns[oldest]
                with contextlib.suppress(OSError):
                    oldest.shutdown(socket.SHUT_RDWR)
            self.conns[conn] = None

    def leave(self, conn: socket.socket) -> bool:
        """Count ``conn`` out; False when it was shut to make room."""
        with self.lock:
            return self.conns.pop(conn, False) is None


def serve_heads(listener: socket.socket, handle: HeadHandler, name: str,
                limit: int | None = MAX_CONNECTIONS) -> threading.Thread:
    """:func:`serve` for HTTP: read each connection's request head (a pending connection, see
    the module doc; 400 when it is incomplete) and pass it to ``handle``."""
    pending = _Pending(MAX_PENDING)

    def run(conn: socket.socket) -> None:
        try:
            head, rest = read_head(conn)
        except HeadError:
            pending.leave(conn)
            answer(conn, "400 Bad Request", "incomplete request head")
            return
        if not pending.leave(conn):
            conn.close()
            return
        handle(conn, head, rest)

    def admit(conn: socket.socket) -> None:
        pending.enter(conn)
        run(conn)

    return serve(listener, admit, name, limit)


def tcp_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (raises ``OSError`` when the port is taken)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def unix_listener(path: str) -> socket.socket:
    """A listening Unix socket at ``path`` (a stale file from an earlier run is replaced)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(128)
    return sock


def front_handler(runtime_socket: str, key: str) -> HeadHandler:
    """The front: check the key on the request head, then relay to ``runtime_socket``."""
    expected = key.encode()

    def handle(conn: socket.socket, head: bytes, rest: bytes) -> None:
        if not bearer_matches(head, expected):
            answer(conn, "401 Unauthorized", "this runtime answers only FlowLlama's gateway")
            return
        upstream = connect_unix(runtime_socket)
        if upstream is None:
            answer(conn, "503 Service Unavailable", "the runtime is not ready")
            return
        relay(conn, upstream, head + rest)

    return handle
