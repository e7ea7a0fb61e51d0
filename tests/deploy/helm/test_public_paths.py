"""The three public hosts against real processes: every path of the public contract is sent
to the role the rendered Ingress routes it to, run as its own process the way the chart runs
it (``flowllama serve api`` and ``flowllama serve gateway`` on one database), and must be
answered there. A scripted Ollama-like upstream (tests/gateway/fake_upstream.py) stands in for
the shared Ollama. What this cannot check: a real ingress controller's host matching and TLS
(no cluster here; docs/kubernetes.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.helm.chart_objects import Objects, by_kind
from factories import STRONG_PASSWORD
from flowllama.db.session import Database
from gateway.conftest import add_deployment, make_owner
from gateway.fake_upstream import fake_upstream
from processes import stop_up, wait_for
from tiny_model import free_port

pytestmark = pytest.mark.slow

DOMAIN = "flowllama.example.org"  # ci/ollama-values.yaml


@dataclass(frozen=True)
class Call:
    """One request of the public contract and what its answer must show."""

    host: str
    method: str
    path: str
    check: Callable[[httpx.Response], bool]
    body: dict[str, Any] | None = None
    key: bool = False


CHAT = {"model": "chat", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}
CONTRACT = [
    Call("api", "GET", "/health", lambda r: r.json()["roles"] == ["api"]),
    Call("api", "POST", "/api/auth/register", lambda r: r.status_code == 201,
         {"email": "contract@example.com", "password": STRONG_PASSWORD}),
    Call("api", "POST", "/api/auth/login", lambda r: "access_token" in r.json(),
         {"email": "contract@example.com", "password": STRONG_PASSWORD}),
    Call("api", "GET", "/", lambda r: r.headers["content-type"].startswith("text/html")),
    Call("api", "GET", "/ollama/chat/api/tags",
         lambda r: r.json()["models"][0]["name"] == "fake:1b", key=True),
    Call("tokenapi", "GET", "/v1/health", lambda r: r.json() == {"status": "ok"}),
    Call("tokenapi", "GET", "/v1/models",
         lambda r: "chat" in {m["id"] for m in r.json()["data"]}, key=True),
    Call("tokenapi", "POST", "/v1/chat/completions",
         lambda r: r.json()["choices"][0]["message"]["role"] == "assistant", CHAT, key=True),
    Call("ollama", "GET", "/health", lambda r: r.json()["roles"] == ["gateway"]),
    Call("ollama", "GET", "/models",
         lambda r: r.json()["models"] == [{"name": "chat", "model": "fake:1b",
                                           "path": "/ollama/chat"}], key=True),
    Call("ollama", "GET", "/ollama/chat/api/tags", lambda r: "models" in r.json(), key=True),
    Call("ollama", "POST", "/ollama/chat/api/chat", lambda r: b'"done": true' in r.content,
         {"model": "fake:1b", "messages": [{"role": "user", "content": "hi"}]}, key=True),
]


def ingress_routes(objects: Objects) -> list[tuple[str, str, str, str]]:
    """``(host, path, pathType, service)`` of every path of the chart's Ingress."""
    [ingress] = by_kind(objects, "Ingress").values()
    return [(rule["host"], path["path"], path["pathType"], path["backend"]["service"]["name"])
            for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]


def route_for(routes: list[tuple[str, str, str, str]], host: str, path: str
              ) -> tuple[str, str, str, str]:
    """The Ingress path that takes ``path`` on ``host``: Exact first, then the longest
    Prefix (whole segments), as the Ingress API defines matching."""
    exact = [r for r in routes if r[0] == host and r[2] == "Exact" and r[1] == path]
    prefix = [r for r in routes if r[0] == host and r[2] == "Prefix" and (
        r[1] == "/" or path == r[1] or path.startswith(r[1].rstrip("/") + "/"))]
    found = exact or sorted(prefix, key=lambda r: len(r[1]), reverse=True)
    assert found, f"no Ingress path takes {host}{path}"
    return found[0]


@contextmanager
def serve(role: str, data_dir: Path, log: Path) -> Iterator[str]:
    """``flowllama serve <role>`` on a free loopback port over ``data_dir``."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    env = {**clean, "FLOWLLAMA_GATEWAY__ROUTE_CACHE_TTL_S": "0.2",
           "FLOWLLAMA_GATEWAY__KEY_CACHE_TTL_S": "0.2"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowllama", "serve", role, "--port", str(port),
             "--data-dir", str(data_dir)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/health", process)
        yield base
    finally:
        stop_up(process)


def test_every_public_path_is_answered_by_the_role_the_ingress_routes_it_to(
        render: Callable[[str], Objects], tmp_path: Path) -> None:
    routes = ingress_routes(render("ollama-values"))
    data_dir = tmp_path / "data"
    with ExitStack() as stack:
        api = stack.enter_context(serve("api", data_dir, tmp_path / "api.log"))
        database = Database(f"sqlite:///{data_dir / 'flowllama.db'}")
        stack.callback(database.dispose)
        fake = stack.enter_context(fake_upstream())
        owner = make_owner(database, "owner@example.com")
        add_deployment(database, owner, "chat", "fake:1b", [fake.instance("a")],
                       runtime="ollama")
        gateway = stack.enter_context(serve("gateway", data_dir, tmp_path / "gateway.log"))
        bases = {"flowllama-api": api, "flowllama-gateway": gateway}
        used = set()
        for call in CONTRACT:
            route = route_for(routes, f"{call.host}.{DOMAIN}", call.path)
            used.add(route)
            headers = {"Authorization": f"Bearer {owner.key}"} if call.key else {}
            response = httpx.request(call.method, bases[route[3]] + call.path, json=call.body,
                                     headers=headers, timeout=30)
            where = f"{call.method} {call.host}.{DOMAIN}{call.path} -> {route[3]}"
            assert response.status_code in (200, 201), f"{where}: {response.text[:300]}"
            assert call.check(response), f"{where}: {response.text[:300]}"
    assert used == set(routes), "an Ingress path no contract call exercises"
