"""Fixtures for the load-test tests: moto's S3 server on loopback with dummy credentials, and
a real HTTP target on loopback that fails half of its requests."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1 (real HTTP, real boto3), for one test module."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> None:
    """Dummy credentials, S3 at moto, and no chance of reading a real AWS profile."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": "/dev/null", "AWS_ENDPOINT_URL_S3": s3_endpoint,
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_bucket(aws_env: None) -> str:
    """A fresh bucket per test."""
    boto3 = pytest.importorskip("boto3")
    import secrets

    name = f"loadtests-{secrets.token_hex(4)}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_client(aws_env: None) -> Any:
    boto3 = pytest.importorskip("boto3")
    return boto3.client("s3")


class FlakyTarget(BaseHTTPRequestHandler):
    """Speaks just enough of FlowLlama's three APIs (backend, Ollama passthrough, token API),
    with streams sent chunk by chunk, and answers every second request with HTTP 500."""

    protocol_version = "HTTP/1.1"
    counter = itertools.count()
    lock = threading.Lock()
    TOKENS = ("Hello", " there", ",", " friend", ".")
    body: ClassVar[dict[str, Any]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = json.loads(self.rfile.read(length) or b"{}")
        self._answer()

    def _answer(self) -> None:
        with self.lock:
            failing = next(self.counter) % 2 == 1
        if failing:
            self._send(500, {"error": "injected failure"})
            return
        path = self.path.split("?")[0]
        if path.endswith(("/api/generate", "/api/chat")):
            self._stream("application/x-ndjson", self._ndjson(path.endswith("chat")))
        elif path.endswith("/chat/completions") and self.body.get("stream"):
            self._stream("text/event-stream", self._sse())
        elif path.endswith("/chat/completions"):
            self._send(200, {"choices": [{"message": {"content": "".join(self.TOKENS)}}],
                             "usage": {"completion_tokens": len(self.TOKENS)}})
        elif path.endswith(("/auth/login", "/auth/refresh")):
            self._send(200, {"access_token": "a", "refresh_token": "r"})
        else:
            self._send(200, {"ok": True, "items": [], "models": [], "data": []})

    def _ndjson(self, chat: bool) -> list[bytes]:
        lines = [{"message": {"content": t}} if chat else {"response": t} for t in self.TOKENS]
        return [json.dumps(x).encode() + b"\n" for x in
                [*lines, {"done": True, "eval_count": len(self.TOKENS)}]]

    def _sse(self) -> list[bytes]:
        chunks = [{"choices": [{"delta": {"content": t}}]} for t in self.TOKENS]
        chunks.append({"choices": [], "usage": {"completion_tokens": len(self.TOKENS)}})
        return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [
            b"data: [DONE]\n\n"]

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, content_type: str, parts: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in parts:
            time.sleep(0.01)  # one token at a time, so TTFT and ITL are real gaps
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def flaky_target() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that fails half its requests; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyTarget)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
