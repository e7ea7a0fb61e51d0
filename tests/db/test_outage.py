"""Which database errors mean "unreachable right now" (503 + Retry-After) and which are bugs."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from conftest import TEST_JWT_SECRET
from db_proxy import CuttableProxy
from factories import STRONG_PASSWORD, bearer, register_and_login
from flowllama.api.app import create_app
from flowllama.db.outage import DatabaseUnavailable, is_unavailable
from flowllama.platform import build_platform
from flowllama.server import ALL_ROLES
from flowllama.settings import Settings


class PgOperational(Exception):
    """Stands in for a driver's connection error class (only its module name matters)."""


def test_outages_are_recognised() -> None:
    assert is_unavailable(OperationalError("SELECT 1", {}, PgOperational("server closed")))
    assert is_unavailable(PoolTimeout("QueuePool limit reached"))
    locked = OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    assert is_unavailable(locked)


def test_other_database_errors_are_not_outages() -> None:
    assert not is_unavailable(IntegrityError("INSERT", {}, PgOperational("duplicate key")))
    assert not is_unavailable(ProgrammingError("SELECT", {}, PgOperational("syntax error")))
    no_table = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert not is_unavailable(no_table)
    assert not is_unavailable(ValueError("not a database error"))


def test_the_answer_says_when_to_retry() -> None:
    error = DatabaseUnavailable()
    assert error.status_code == 503 and error.code == "database_unavailable"
    assert int(error.headers["Retry-After"]) > 0


@pytest.fixture
def outage_client(outage_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url=outage_db_url,
                        auth={"jwt_secret": TEST_JWT_SECRET})  # type: ignore[arg-type]
    settings.gateway.key_cache_ttl_s = 0.01  # every request reads the database
    platform = build_platform(settings)
    with TestClient(create_app(platform, ALL_ROLES)) as client:
        yield client


def test_while_postgresql_is_away_requests_get_503_then_recover(
        outage_client: TestClient, pg_proxy: CuttableProxy) -> None:
    client = outage_client
    auth = bearer(register_and_login(client))
    api_key = client.post("/api/keys", json={"name": "ci"}, headers=auth).json()["key"]
    gateway_auth = {"Authorization": f"Bearer {api_key}"}
    assert client.get("/v1/models", headers=gateway_auth).status_code == 200
    login = {"email": "ada@example.com", "password": STRONG_PASSWORD}

    pg_proxy.cut()
    time.sleep(0.05)  # let the key cache entry expire (its TTL is 10 ms)
    answers = [client.post("/api/auth/login", json=login), client.get("/api/deployments",
                                                                     headers=auth),
               client.post("/api/auth/register", json={**login, "email": "bo@example.com"})]
    for response in answers:
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        assert response.json()["error"]["code"] == "database_unavailable"
    gateway = client.get("/v1/models", headers=gateway_auth)
    assert gateway.status_code == 503 and gateway.headers["Retry-After"] == "5"
    assert gateway.json()["error"]["type"] == "server_error"
    assert gateway.json()["error"]["code"] == "database_unavailable"
    assert client.get("/ready").status_code == 503

    pg_proxy.restore()  # the pool's pre-ping replaces the dead connections by itself
    assert client.post("/api/auth/login", json=login).status_code == 200
    assert client.get("/v1/models", headers=gateway_auth).status_code == 200
    assert client.get("/ready").status_code == 200
