"""A small fake of Ollama's HTTP API for runtime tests, on loopback only.

It speaks the documented shapes of ``GET /api/tags``, ``POST /api/pull`` (an NDJSON progress
stream, or an error) and ``POST /api/generate`` (an empty prompt loads the model), and records
every request. ``GET /fake/env`` returns the ``OLLAMA_*`` variables the process sees (and whether
a secret leaked in), so a test that runs it as the ``ollama`` executable can check the
environment the runtime built. A model named ``slow…`` downloads for minutes (a progress line
every fraction of a second), so a test can act in the middle of a pull. ``POST /api/chat``
streams NDJSON; with ``"gate": PATH`` it sends the first line, then waits (up to a minute) for
that file to exist before the rest, so a test can see a stream arrive line by line.
``POST /v1/chat/completions`` answers ``max_tokens`` words (SSE when streamed, with a usage
chunk when asked), as the gateway and the monitor's deep probe expect.
``POST /fake/egress {"host", "port"}`` asks its ``HTTPS_PROXY`` to ``CONNECT`` there, sends
``GET /`` through the tunnel and returns what came back (how a model pull gets out). Run as a
script: ``fake_ollama.py serve`` on ``$OLLAMA_HOST``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

LAYERS = {"sha256:aaa": 1000, "sha256:bbb": 3000}
SLOW_STEPS = 1000
SLOW_STEP_S = 0.2


def pull_lines(model: str) -> tuple[int, list[Any]]:
    """The HTTP status and lines Ollama would send when pulling ``model``."""
    if model.startswith("missing"):
        return 200, [{"status": "pulling manifest"},
                     {"error": "pull model manifest: file does not exist"}]
    if model.startswith("broken"):
        return 500, [{"error": "write /models/blobs: no space left on device"}]
    if model.startswith("truncated"):
        return 200, [{"status": "pulling manifest"}]
    if model.startswith("garbage"):
        return 200, [{"status": "pulling manifest"}, "<html>proxy error</html>"]
    lines: list[Any] = [{"status": "pulling manifest"}]
    if model.startswith("slow"):
        return 200, [*lines, *({"status": "pulling sha256:slow", "digest": "sha256:slow",
                                "total": SLOW_STEPS, "completed": step}
                               for step in range(SLOW_STEPS)), {"status": "success"}]
    lines += [{"status": f"pulling {d}", "digest": d, "total": t} for d, t in LAYERS.items()]
    for share in (2, 1):  # both layers half done, then both done, interleaved
        lines += [{"status": f"pulling {d}", "digest": d, "total": t, "completed": t // share}
                  for d, t in LAYERS.items()]
    lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"},
              {"status": "success"}]
    return 200, lines


class FakeOllama(ThreadingHTTPServer):
    """The server; ``requests`` lists ``(path, json body)`` of every POST."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.requests: list[tuple[str, dict[str, Any]]] = []

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeOllama

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            self._json(200, {"models": []})
        elif self.path == "/fake/env":
            env = {k: v for k, v in os.environ.items() if k.startswith("OLLAMA_")}
            self._json(200, {"env": env, "secret_leaked": "FLOWLLAMA_JWT_SECRET" in os.environ,
                             "flowllama_variables": sorted(k for k in os.environ
                                                           if k.startswith("FLOWLLAMA_"))})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, body))
        if self.path == "/api/pull":
            self._pull(str(body.get("model", "")))
        elif self.path == "/api/chat":
            self._chat(body)
        elif self.path == "/v1/chat/completions":
            self._openai_chat(body)
        elif self.path == "/fake/egress":
            self._json(200, through_proxy(str(body["host"]), int(body["port"])))
        elif self.path == "/api/generate":
            self._json(200, {"model": body.get("model"), "response": "", "done": True,
                             "done_reason": "load"})
        else:
            self._json(404, {"error": "not found"})

    def _pull(self, model: str) -> None:
        status, lines = pull_lines(model)
        if status != 200:
            self._json(status, lines[0])
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        for line in lines:
            text = line if isinstance(line, str) else json.dumps(line)
            try:
                self.wfile.write(text.encode() + b"\n")
                self.wfile.flush()
            except OSError:  # the client gave up on the pull
                return
            if model.startswith("slow"):
                time.sleep(SLOW_STEP_S)

    def _chat(self, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        gate = body.get("gate")
        for index, word in enumerate(("hello", " there")):
            if index and gate:
                deadline = time.monotonic() + 60
                while not os.path.exists(gate) and time.monotonic() < deadline:
                    time.sleep(0.05)
            line = {"model": body.get("model"), "done": False,
                    "message": {"role": "assistant", "content": word}}
            self.wfile.write(json.dumps(line).encode() + b"\n")
            self.wfile.flush()
        self.wfile.write(json.dumps({"model": body.get("model"), "done": True}).encode() + b"\n")

    def _openai_chat(self, body: dict[str, Any]) -> None:
        words = int(body.get("max_tokens") or 4)
        usage = {"prompt_tokens": 5, "completion_tokens": words, "total_tokens": 5 + words}
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body.get("model")}
        if not body.get("stream"):
            message = {"role": "assistant", "content": " ".join(["hello"] * words)}
            self._json(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "length", "message": message}]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunk = {**base, "object": "chat.completion.chunk"}
        events = [{**chunk, "choices": [{"index": 0, "delta": {"content": "hello "}}]}] * words
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk, "choices": [], "usage": usage})
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def through_proxy(host: str, port: int) -> dict[str, str]:
    """``CONNECT host:port`` at ``$HTTPS_PROXY``, then ``GET /`` through the tunnel."""
    proxy = urlsplit(os.environ["HTTPS_PROXY"])
    with socket.create_connection((proxy.hostname or "", proxy.port or 80), timeout=30) as sock:
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head and (chunk := sock.recv(4096)):
            head += chunk
        status = head.split(b"\r\n", 1)[0].decode()
        if " 200 " not in status + " ":
            return {"connect": status, "answer": ""}
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = head.split(b"\r\n\r\n", 1)[1]
        while chunk := sock.recv(4096):
            answer += chunk
    return {"connect": status, "answer": answer.decode("utf-8", "replace")}


@contextmanager
def running(server: FakeOllama) -> Iterator[FakeOllama]:
    """Serve on a background thread for the duration of the block."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str]) -> int:
    """``serve``: listen on ``$OLLAMA_HOST`` (host:port) until terminated, like Ollama."""
    if argv != ["serve"]:
        print("usage: ollama serve", file=sys.stderr)
        return 2
    host, _, port = os.environ["OLLAMA_HOST"].rpartition(":")
    FakeOllama(host, int(port)).serve_forever(poll_interval=0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
