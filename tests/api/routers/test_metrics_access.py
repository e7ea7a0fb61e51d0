"""``/api/docs``, ``/api/openapi.json`` and ``/metrics``: public in development, closed (or
behind the metrics token) in production."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.platform import build_platform
from flowllama.server import ALL_ROLES
from flowllama.settings import Settings

METRICS_TOKEN = secrets.token_urlsafe(32)
PRODUCTION_SECRET = SecretStr(secrets.token_urlsafe(48))


@pytest.fixture
def production(settings: Settings, database: Database) -> Iterator[TestClient]:
    prod = settings.model_copy(update={
        "env": "production",
        "auth": settings.auth.model_copy(update={"jwt_secret": PRODUCTION_SECRET}),
    })
    with TestClient(create_app(build_platform(prod, db=database), ALL_ROLES)) as client:
        yield client


@pytest.fixture
def production_with_token(settings: Settings, database: Database) -> Iterator[TestClient]:
    prod = settings.model_copy(update={
        "env": "production",
        "auth": settings.auth.model_copy(update={"jwt_secret": PRODUCTION_SECRET}),
        "http": settings.http.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)}),
    })
    with TestClient(create_app(build_platform(prod, db=database), ALL_ROLES)) as client:
        yield client


def test_development_serves_docs_and_metrics(client: TestClient) -> None:
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/docs").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_production_hides_docs_and_metrics(production: TestClient) -> None:
    for path in ("/api/openapi.json", "/api/docs", "/metrics"):
        assert production.get(path).status_code == 404, path


def test_production_metrics_answer_the_token_only(production_with_token: TestClient) -> None:
    client = production_with_token
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    good = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert good.status_code == 200
    assert "flowllama" in good.text
