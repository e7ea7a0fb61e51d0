"""The keyed front of an isolated runtime, and its way out to the internet.

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
* **The egress**, on a Unix socket next to it: the runtime's ``HTTPS_PROXY`` inside the
  namespace leads here, so it can still pull models. Only ``CONNECT host:port`` is served; it
  goes through the operator's own ``HTTPS_PROXY`` when the supervisor has one, else straight to
  the target, never to a loopback address of this host (that would undo the isolation).

Standard library only: it runs inside the supervisor, which must start in milliseconds.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import ipaddress
import os
import socket
import threading
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

KEY_ENV = "FLOWLLAMA_RUNTIME_KEY"  # how the provisioner hands the key to the supervisor
BUFFER_BYTES = 64 * 1024
HEAD_LIMIT_BYTES = 32 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 256

Handler = Callable[[socket.socket], None]


class HeadError(Exception):
    """The peer sent no complete request head (too long, too slow, or it closed)."""


def read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    """(the request head up to and including its blank line, bytes already read after it).

    Raises ``HeadError`` when the head is over ``HEAD_LIMIT_BYTES``, takes longer than
    ``HEAD_TIMEOUT_S`` or the peer closes first: a slow or endless head cannot hold a thread.
    """
    conn.settimeout(HEAD_TIMEOUT_S)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            if len(data) > HEAD_LIMIT_BYTES:
                raise HeadError("request head too large")
            chunk = conn.recv(BUFFER_BYTES)
            if not chunk:
                raise HeadError("closed before the end of the request head")
            data += chunk
    except OSError as exc:  # socket.timeout included
        raise HeadError(str(exc)) from exc
    finally:
        conn.settimeout(None)  # a stream may stay silent for long (a model loading)
    end = data.index(b"\r\n\r\n") + 4
    return data[:end], data[end:]


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
    body = ('{"error": "' + message.replace('"', "'") + '"}').encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with contextlib.suppress(OSError):
        conn.sendall(head + body)
    conn.close()


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


def serve(listener: socket.socket, handle: Handler, name: str) -> threading.Thread:
    """Accept on ``listener`` in a daemon thread, each connection handled in its own; beyond
    ``MAX_CONNECTIONS`` at once a new connection is closed at once."""
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def run(conn: socket.socket) -> None:
        try:
            handle(conn)
        finally:
            slots.release()

    def accept() -> None:
        while True:
            try:
                conn, _address = listener.accept()
            except OSError:
                return  # the listener was closed
            if not slots.acquire(blocking=False):
                conn.close()
                continue
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, name=name, daemon=True)
    thread.start()
    return thread


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


def front_handler(runtime_socket: str, key: str) -> Handler:
    """The front: check the key on the request head, then relay to ``runtime_socket``."""
    expected = key.encode()

    def handle(conn: socket.socket) -> None:
        try:
            head, rest = read_head(conn)
        except HeadError:
            answer(conn, "400 Bad Request", "incomplete request head")
            return
        if not bearer_matches(head, expected):
            answer(conn, "401 Unauthorized", "this runtime answers only FlowLlama's gateway")
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(runtime_socket)
        except OSError:
            upstream.close()
            answer(conn, "503 Service Unavailable", "the runtime is not ready")
            return
        relay(conn, upstream, head + rest)

    return handle


def egress_handler(upstream_proxy: str | None) -> Handler:
    """The egress: serve ``CONNECT`` through ``upstream_proxy`` (``http://[user:pass@]host:port``)
    or directly, refusing loopback targets."""
    proxy = urlsplit(upstream_proxy) if upstream_proxy else None

    def handle(conn: socket.socket) -> None:
        try:
            head, rest = read_head(conn)
        except HeadError:
            answer(conn, "400 Bad Request", "incomplete request head")
            return
        target = _connect_target(head)
        if target is None:
            answer(conn, "405 Method Not Allowed", "only CONNECT host:port is served")
            return
        try:
            if proxy is not None:
                upstream = socket.create_connection(
                    (proxy.hostname or "", proxy.port or 80), timeout=CONNECT_TIMEOUT_S)
                first = _with_proxy_auth(head, proxy.username, proxy.password) + rest
            else:
                upstream = _connect_outside(*target)
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                first = rest
        except PermissionError as exc:
            answer(conn, "403 Forbidden", str(exc))
            return
        except OSError as exc:
            answer(conn, "502 Bad Gateway", f"cannot reach {target[0]}:{target[1]}: {exc}")
            return
        upstream.settimeout(None)
        relay(conn, upstream, first)

    return handle


def _connect_target(head: bytes) -> tuple[str, int] | None:
    """(host, port) of a ``CONNECT host:port HTTP/1.x`` request line, else None."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"CONNECT":
        return None
    host, sep, port = parts[1].decode("ascii", "replace").rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def _connect_outside(host: str, port: int) -> socket.socket:
    """Connect to the first address of ``host`` that is not loopback or unspecified."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    allowed = [a for a in addresses
               if not (ipaddress.ip_address(a[4][0]).is_loopback
                       or ipaddress.ip_address(a[4][0]).is_unspecified)]
    if not allowed:
        raise PermissionError(f"{host} is this host's loopback: refused")
    family, kind, proto, _name, address = allowed[0]
    sock = socket.socket(family, kind, proto)
    sock.settimeout(CONNECT_TIMEOUT_S)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def _with_proxy_auth(head: bytes, user: str | None, password: str | None) -> bytes:
    """``head`` with a ``Proxy-Authorization: Basic`` line when the proxy URL has credentials."""
    if user is None:
        return head
    token = base64.b64encode(f"{unquote(user)}:{unquote(password or '')}".encode())
    return head[:-2] + b"Proxy-Authorization: Basic " + token + b"\r\n\r\n"
