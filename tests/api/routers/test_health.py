"""Liveness and readiness."""

from __future__ import annotations

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
