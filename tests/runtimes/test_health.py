from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from flowllama.runtimes import RuntimeExited, RuntimeStartTimeout, wait_healthy
from tiny_model import free_port


@contextmanager
def _server(ready_after: int) -> Iterator[str]:
    """Answers 503 to the first ``ready_after`` requests, then 200."""
    calls = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            calls["n"] += 1
            self.send_response(200 if calls["n"] > ready_after else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_returns_once_the_health_path_answers_2xx() -> None:
    with _server(ready_after=2) as url:
        elapsed = wait_healthy(url, "/health", timeout_s=10, interval_s=0.01)
    assert 0 <= elapsed < 10


def test_times_out_with_the_last_error() -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeStartTimeout, match="ConnectError"):
        wait_healthy(f"http://127.0.0.1:{free_port()}", "/", timeout_s=0.5, interval_s=0.05)
    assert time.monotonic() - started < 3


def test_times_out_on_a_server_that_never_gets_healthy() -> None:
    with _server(ready_after=10**6) as url, pytest.raises(RuntimeStartTimeout, match="503"):
        wait_healthy(url, "/", timeout_s=0.3, interval_s=0.05)


def test_returns_early_when_the_process_exits() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    started = time.monotonic()
    with pytest.raises(RuntimeExited, match="code 3"):
        wait_healthy(f"http://127.0.0.1:{free_port()}", "/", timeout_s=60, process=process)
    assert time.monotonic() - started < 10
