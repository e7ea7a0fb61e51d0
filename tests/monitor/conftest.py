"""A scriptable inference server on loopback: healthy, hung on generation, or spilled to CPU."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, User
from flowllama.db.types import new_id


@dataclass
class FakeServer:
    """What the server does: ``health_status`` for GETs of the health paths, ``hang_s`` before
    answering a generation, ``ps_models`` for Ollama's ``/api/ps``."""

    url: str = ""
    health_status: int = 200
    hang_s: float = 0.0
    ps_models: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    # When set, every request without ``Authorization: Bearer <api_key>`` gets 401 (llama.cpp).
    api_key: str | None = None


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # The probe may have given up waiting, as it should.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def _refused(self) -> bool:
            if server.api_key is None or self.headers.get("Authorization") == \
                    f"Bearer {server.api_key}":
                return False
            self._json(401, {"detail": "Invalid API key"})
            return True

        def do_GET(self) -> None:
            server.requests.append(f"GET {self.path}")
            if self._refused():
                return
            if self.path == "/api/ps":
                self._json(200, {"models": server.ps_models})
            else:
                self._json(server.health_status, {"data": [], "models": []})

        def do_POST(self) -> None:
            server.requests.append(f"POST {self.path}")
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self._refused():
                return
            time.sleep(server.hang_s)
            self._json(200, {"choices": [{"message": {"content": "p"}}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1}})

    return Handler


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


def serving_deployment(database: Database, endpoint_url: str, *, instances: int = 1,
                       model: str = "local/tiny", cloud: str = "local") -> tuple[str, list[str]]:
    """A running deployment with ``instances`` healthy instances at ``endpoint_url``."""
    with database.session() as session:
        user = User(email=f"{new_id()}@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="chat", model=model, context_size=512,
                                cloud=cloud, status="running")
        session.add(deployment)
        session.flush()
        rows = [Instance(deployment_id=deployment.id, provider="local", handle={},
                         endpoint_url=endpoint_url, status="healthy") for _ in range(instances)]
        session.add_all(rows)
        session.flush()
        return deployment.id, [row.id for row in rows]
