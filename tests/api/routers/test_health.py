"""Liveness and readiness."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.platform import Platform


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ready_when_database_answers(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_not_ready_when_database_is_down(platform: Platform) -> None:
    platform.db = Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    with TestClient(create_app(platform)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"


def test_root_page_says_what_runs(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "FlowLlama" in response.text


def test_not_ready_while_a_background_loop_is_dead_or_failing(client: TestClient,
                                                             platform: Platform) -> None:
    dead = platform.loops.register("agent-worker-1")
    dead.died()
    response = client.get("/ready")
    assert response.status_code == 503 and response.headers["Retry-After"]
    error = response.json()["error"]
    assert error["code"] == "not_ready" and "agent-worker-1" in error["message"]
    assert error["loops"] == {"agent-worker-1": "stopped unexpectedly"}
    platform.loops.retire(dead)
    failing = platform.loops.register("monitor")
    failing.stale_after_s = 0
    failing.failed(RuntimeError("database went away"))
    time.sleep(0.01)  # failing for longer than stale_after_s (0)
    why = client.get("/ready").json()["error"]["loops"]["monitor"]
    # Public: the error's class, never its text (a database error's carries SQL and hosts).
    assert why.endswith(": RuntimeError") and "database went away" not in why
    failing.succeeded()
    assert client.get("/ready").status_code == 200
