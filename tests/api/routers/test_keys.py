"""The API keys API on SQLite and PostgreSQL: the key is shown once, stored hashed, listed
without secrets, revoked by its owner only, and bad input is a 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import bearer, register_and_login
from flowllama.db.tables import ApiKey
from flowllama.platform import Platform
from flowllama.security.tokens import hash_secret


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return bearer(register_and_login(client))


def _create(client: TestClient, auth: dict[str, str], **body: Any) -> Any:
    return client.post("/api/keys", json={"name": "ci", **body}, headers=auth)


def test_create_shows_the_key_once_and_stores_only_its_hash(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    response = _create(client, auth, models=["chat"], rpm=60, tpm=10_000,
                       monthly_token_budget=1_000_000)
    assert response.status_code == 201, response.text
    body = response.json()
    key = body["key"]
    assert key.startswith("fl-") and len(key) >= 3 + 43  # 32 bytes of URL-safe base64
    assert key.startswith(body["prefix"]) and len(body["prefix"]) < 16
    assert (body["models"], body["rpm"], body["tpm"]) == (["chat"], 60, 10_000)
    assert body["monthly_token_budget"] == 1_000_000 and body["last_used_at"] is None
    with platform.db.session() as session:
        row = session.scalars(select(ApiKey)).one()
        assert row.key_hash == hash_secret(key)
        assert key not in repr(row.__dict__.values())

    listed = client.get("/api/keys", headers=auth).json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    assert key not in str(listed)


def test_two_keys_differ(client: TestClient, auth: dict[str, str]) -> None:
    first, second = _create(client, auth).json(), _create(client, auth).json()
    assert first["key"] != second["key"] and first["id"] != second["id"]
    assert len(client.get("/api/keys", headers=auth).json()) == 2


def test_revoke_hides_the_key_and_a_second_revoke_is_404(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    key_id = _create(client, auth).json()["id"]
    revoked: list[str] = []
    platform.key_revoked_listeners.append(revoked.append)
    assert client.delete(f"/api/keys/{key_id}", headers=auth).status_code == 204
    assert client.get("/api/keys", headers=auth).json() == []
    assert client.delete(f"/api/keys/{key_id}", headers=auth).status_code == 404
    with platform.db.session() as session:
        row = session.get(ApiKey, key_id)
        assert row is not None and row.revoked_at is not None
        assert revoked == [row.key_hash]


def test_another_users_key_is_404_and_stays_live(client: TestClient,
                                                 auth: dict[str, str]) -> None:
    key_id = _create(client, auth).json()["id"]
    mallory = bearer(register_and_login(client, "mallory@example.com"))
    assert client.delete(f"/api/keys/{key_id}", headers=mallory).status_code == 404
    assert client.get("/api/keys", headers=mallory).json() == []
    assert [k["id"] for k in client.get("/api/keys", headers=auth).json()] == [key_id]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"rpm": 0}, "rpm"),
    ({"tpm": -1}, "tpm"),
    ({"models": []}, "models"),
    ({"models": [" "]}, "models"),
    ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"expires_at": "2999-01-01T00:00:00"}, "expires_at"),  # no time zone
    ({"owner": "someone"}, "owner"),
])
def test_bad_input_is_422_naming_the_field(client: TestClient, auth: dict[str, str],
                                           body: dict[str, Any], field: str) -> None:
    response = client.post("/api/keys", json={"name": "ci", **body}, headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_expiry_in_the_future_is_kept(client: TestClient, auth: dict[str, str]) -> None:
    expires = datetime.now(UTC) + timedelta(days=7)
    body = _create(client, auth, expires_at=expires.isoformat()).json()
    assert datetime.fromisoformat(body["expires_at"]) == expires


def test_keys_need_a_login(client: TestClient) -> None:
    assert client.get("/api/keys").status_code == 401
    assert client.post("/api/keys", json={"name": "x"}).status_code == 401
