"""The keyed front and the egress of an isolated runtime, in this process over real sockets: the
key check on the request head, the relay, and what is refused."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flowllama.providers.local import keyed_front

KEY = "k" * 43
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@pytest.mark.parametrize(("head", "matches"), [
    (b"GET / HTTP/1.1\r\nAuthorization: Bearer " + KEY.encode() + b"\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nauthorization:Bearer " + KEY.encode() + b"  \r\n\r\n", True),
    (b"GET / HTTP/1.1\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nAuthorization: Bearer " + KEY.encode()[:-1] + b"\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nAuthorization: " + KEY.encode() + b"\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nX-Authorization: Bearer " + KEY.encode() + b"\r\n\r\n", False),
    (b"GET /?Authorization: Bearer " + KEY.encode() + b" HTTP/1.1\r\n\r\n", False),
    # Two headers: which one a server would read is ambiguous, so neither counts.
    (b"GET / HTTP/1.1\r\nAuthorization: Bearer " + KEY.encode()
     + b"\r\nAuthorization: Bearer x\r\n\r\n", False),
])
def test_only_exactly_one_bearer_header_with_the_key_matches(head: bytes, matches: bool) -> None:
    assert keyed_front.bearer_matches(head, KEY.encode()) is matches


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """A runtime on the Unix socket ``runtime.sock`` (relative, as the supervisor uses it):
    answers ``ok`` to each connection and records what it received."""
    monkeypatch.chdir(tmp_path)
    listener = keyed_front.unix_listener("runtime.sock")
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                    data += chunk
                received.append(data)
                conn.sendall(ANSWER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield received
    listener.close()


def _front(runtime_socket: str = "runtime.sock") -> str:
    listener = keyed_front.tcp_listener("127.0.0.1", 0)
    keyed_front.serve(listener, keyed_front.front_handler(runtime_socket, KEY), "front")
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_the_front_relays_keyed_requests_and_refuses_the_rest(runtime: list[bytes]) -> None:
    url = _front()
    assert httpx.get(url + "/api/tags", timeout=10).status_code == 401
    assert httpx.get(url + "/api/tags", headers={"Authorization": "Bearer nope"},
                     timeout=10).status_code == 401
    assert runtime == []  # nothing refused ever reached the runtime
    ok = httpx.get(url + "/api/tags", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert (ok.status_code, ok.text) == (200, "ok")
    assert runtime[0].startswith(b"GET /api/tags HTTP/1.1\r\n")


def test_a_runtime_not_listening_yet_is_a_503(runtime: list[bytes]) -> None:
    url = _front("absent.sock")
    answer = httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert answer.status_code == 503


def test_a_head_too_large_or_too_slow_is_refused(runtime: list[bytes],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyed_front, "HEAD_TIMEOUT_S", 0.3)
    port = int(_front().rpartition(":")[2])
    for sent in (b"GET / HTTP/1.1\r\nX: " + b"a" * 40_000, b"GET / HTTP/1.1\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(sent)
            assert conn.recv(100).startswith(b"HTTP/1.1 400")
    assert runtime == []


def test_the_egress_serves_connect_only_and_never_to_this_hosts_loopback() -> None:
    listener = keyed_front.tcp_listener("127.0.0.1", 0)
    keyed_front.serve(listener, keyed_front.egress_handler(None), "egress")
    port = listener.getsockname()[1]
    for request, status in ((f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n", b"403"),
                            (f"CONNECT localhost:{port} HTTP/1.1\r\n\r\n", b"403"),
                            ("GET http://example.com/ HTTP/1.1\r\n\r\n", b"405")):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(request.encode())
            assert conn.recv(100).split(b" ")[1] == status, request
