"""The keyed front and the egress of an isolated runtime, in this process over real sockets: the
key check on the request head, the relay, and what is refused."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx
import pytest
from tests.providers.local.conftest import HeadServer

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
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            head_server: HeadServer) -> list[bytes]:
    """A runtime on the Unix socket ``runtime.sock`` (relative, as the supervisor uses it):
    answers ``ok`` to each connection and records the head it received."""
    monkeypatch.chdir(tmp_path)
    return head_server(keyed_front.unix_listener("runtime.sock"),
                       lambda conn, _head: conn.sendall(ANSWER))


def _front(runtime_socket: str = "runtime.sock") -> str:
    listener = keyed_front.tcp_listener("127.0.0.1", 0)
    keyed_front.serve_heads(listener, keyed_front.front_handler(runtime_socket, KEY), "front",
                            limit=None)
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def _keyed_head(extra: bytes = b"") -> bytes:
    return b"GET / HTTP/1.1\r\nAuthorization: Bearer " + KEY.encode() + b"\r\n" + extra + b"\r\n"


def _status(port: int, sent: bytes) -> bytes:
    """The status code the front answers ``sent`` with."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(sent)
        return conn.recv(100).split(b" ")[1]


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


def test_a_head_over_32_kib_is_refused_however_it_arrives(runtime: list[bytes]) -> None:
    port = int(_front().rpartition(":")[2])
    # Whole heads in one write: one read may bring all of it, and it is still too large.
    assert _status(port, _keyed_head(b"X: " + b"a" * 40 * 1024 + b"\r\n")) == b"400"
    assert _status(port, b"GET / HTTP/1.1\r\nX: " + b"a" * 40 * 1024) == b"400"
    assert runtime == []
    assert _status(port, _keyed_head(b"X: " + b"a" * 30 * 1024 + b"\r\n")) == b"200"


def test_a_trickled_head_is_closed_at_one_deadline_for_the_whole_head(
    runtime: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keyed_front, "HEAD_TIMEOUT_S", 0.5)
    port = int(_front().rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        stop = threading.Event()

        def trickle() -> None:  # one byte every 0.1 s: each read is quick, the head is not
            for byte in b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 200:
                if stop.wait(0.1):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        try:
            assert conn.recv(100).startswith(b"HTTP/1.1 400")  # long before the 20 s trickle
        finally:
            stop.set()
    assert runtime == []


def test_slow_strangers_filling_the_pending_pool_do_not_lock_the_keyed_peer_out(
    runtime: list[bytes],
) -> None:
    url = _front()
    port = int(url.rpartition(":")[2])
    strangers = []
    for _ in range(300):  # more than the front ever held before (256), all without a head
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(b"GET / HTTP/1.1\r\n")
        strangers.append(conn)
    try:
        ok = httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        assert (ok.status_code, ok.text) == (200, "ok")
        # The front held no more than MAX_PENDING (64) of them: the oldest were closed.
        assert all(_closed(conn) for conn in strangers[:200])
    finally:
        for conn in strangers:
            conn.close()


def _closed(conn: socket.socket) -> bool:
    """Whether the front closed ``conn`` (end of stream, a reset or an error answer)."""
    conn.settimeout(10)
    try:
        data = conn.recv(100)
    except ConnectionResetError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 400")
