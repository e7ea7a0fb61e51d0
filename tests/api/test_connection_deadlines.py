"""Slow clients against a real uvicorn server run as ``flowllama serve`` runs it: a silent
connection, a trickled request head, an oversized head and a trickled body are each answered
and closed, and ``/health`` still answers while 200 slow connections hang on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.platform import build_platform
from flowllama.providers.local.supervision import free_port
from flowllama.server import uvicorn_options
from flowllama.settings import Settings
from raw_http import read_until_closed

GENEROUS_S = 20.0  # bounds for "eventually", far above the 1 s deadlines configured here
PATIENT_HEAD_S = 60.0  # a head deadline no slow connection of a test reaches
HEALTH_WITHIN_S = 1.0  # generous: /health must not wait behind the slow connections


@contextmanager
def _serving(settings: Settings, database: Database, header_timeout_s: float) -> Iterator[int]:
    """A real uvicorn server as ``flowllama serve`` runs it; yields its port."""
    http = settings.http.model_copy(update={
        "header_timeout_s": header_timeout_s, "body_timeout_s": 1.0,
        "keep_alive_timeout_s": 1.0, "max_header_bytes": 8192})
    strict = settings.model_copy(update={"http": http, "port": free_port()})
    app = create_app(build_platform(strict, db=database), ("api",))
    server = uvicorn.Server(uvicorn.Config(app, **{**uvicorn_options(strict),
                                                   "log_level": "warning"}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + GENEROUS_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield strict.port
    finally:
        server.should_exit = True
        thread.join(GENEROUS_S)
        assert not thread.is_alive()


@pytest.fixture
def server_port(settings: Settings, database: Database) -> Iterator[int]:
    """Deadlines of 1 s, to see them cut slow clients off."""
    with _serving(settings, database, header_timeout_s=1.0) as port:
        yield port


@pytest.fixture
def patient_server_port(settings: Settings, database: Database) -> Iterator[int]:
    """A head deadline longer than any test here: slow connections stay open throughout."""
    with _serving(settings, database, header_timeout_s=PATIENT_HEAD_S) as port:
        yield port


def _connect(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=GENEROUS_S)
    return conn



def test_a_silent_connection_is_closed(server_port: int) -> None:
    with _connect(server_port) as conn:
        assert read_until_closed(conn).startswith(b"HTTP/1.1 408")


def test_a_trickled_request_head_is_cut_off(server_port: int) -> None:
    with _connect(server_port) as conn:
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\n":
            try:
                conn.send(bytes([byte]))
            except OSError:  # closed under us: what we want
                break
            time.sleep(0.1)
        assert read_until_closed(conn).startswith(b"HTTP/1.1 408")


def test_an_oversized_head_is_refused(server_port: int) -> None:
    with _connect(server_port) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(20):
                conn.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        except OSError:
            pass
        answer = read_until_closed(conn)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431")  # closed, not served


def test_a_trickled_body_is_cut_off(server_port: int) -> None:
    with _connect(server_port) as conn:
        conn.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b'"request_timeout"' in answer


def test_an_idle_keep_alive_connection_is_closed(server_port: int) -> None:
    with _connect(server_port) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_until_closed(conn)  # the response, then the close after idling
    assert answer.startswith(b"HTTP/1.1 200")


def _still_open(conn: socket.socket) -> bool:
    """The server has neither answered nor closed ``conn`` (nothing to read, no EOF)."""
    conn.setblocking(False)
    try:
        return not conn.recv(1)  # b"" is the server's close; data would be an answer
    except BlockingIOError:
        return True
    except OSError:  # reset: closed
        return False
    finally:
        conn.setblocking(True)


def test_health_answers_under_200_slow_connections(patient_server_port: int) -> None:
    """200 connections hang in the middle of their request head for the whole test (the head
    deadline is longer than it), and ``/health`` answers at once all the same."""
    started = time.monotonic()
    slow: list[socket.socket] = []
    try:
        for _ in range(200):
            conn = _connect(patient_server_port)
            conn.sendall(b"GET /health HTTP/1.1\r\nHo")  # and then nothing more
            slow.append(conn)
        with httpx.Client(timeout=GENEROUS_S) as client:
            for _ in range(5):
                asked = time.monotonic()
                response = client.get(f"http://127.0.0.1:{patient_server_port}/health")
                took = time.monotonic() - asked
                assert response.status_code == 200
                assert took < HEALTH_WITHIN_S, f"/health took {took:.2f} s"
        assert all(_still_open(conn) for conn in slow), "a slow connection was let go early"
        assert time.monotonic() - started < PATIENT_HEAD_S  # so none reached its deadline
    finally:
        for conn in slow:
            conn.close()
