"""Per-account quotas by tier, through the API on SQLite and PostgreSQL: each cap holds,
under parallel creates too, names the resource, and frees up when things are deleted."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import bearer, register_and_login
from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.platform import build_platform
from flowllama.server import ALL_ROLES
from flowllama.services.quotas import uses_gpu
from flowllama.settings import QuotaSettings, Settings, TierQuota
from flowllama.webhooks import ssrf

AWS_8B = {"name": "chat", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws"}
CAPS = TierQuota(deployments=2, gpu_instances=1, api_keys=3, webhooks=1)


@pytest.fixture
def capped(settings: Settings, database: Database) -> Iterator[TestClient]:
    quotas = QuotaSettings(tiers={"free": CAPS, "unlimited": TierQuota()})
    platform = build_platform(settings.model_copy(update={"quotas": quotas}), db=database)
    with TestClient(create_app(platform, ALL_ROLES)) as client:
        yield client


@pytest.fixture
def auth(capped: TestClient) -> dict[str, str]:
    return bearer(register_and_login(capped))


def _error(response: Any) -> dict[str, str]:
    assert response.status_code == 403, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    return error


def _key(client: TestClient, auth: dict[str, str]) -> Any:
    return client.post("/api/keys", json={"name": "k"}, headers=auth)


def test_api_keys_stop_at_the_cap_and_revoking_frees_one(capped: TestClient,
                                                         auth: dict[str, str]) -> None:
    ids = [_key(capped, auth).json()["id"] for _ in range(3)]
    assert _error(_key(capped, auth))["field"] == "api_keys"
    assert capped.delete(f"/api/keys/{ids[0]}", headers=auth).status_code == 204
    assert _key(capped, auth).status_code == 201


def test_parallel_creates_cannot_exceed_the_cap(capped: TestClient, auth: dict[str, str]
                                                ) -> None:
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = Counter(pool.map(lambda _: _key(capped, auth).status_code, range(12)))
    assert statuses == {201: 3, 403: 9}
    assert len(capped.get("/api/keys", headers=auth).json()) == 3


def test_caps_are_per_account(capped: TestClient, auth: dict[str, str]) -> None:
    for _ in range(3):
        _key(capped, auth)
    other = bearer(register_and_login(capped, email="bob@example.com"))
    assert _key(capped, other).status_code == 201


def test_gpu_deployments_have_their_own_cap(capped: TestClient, auth: dict[str, str]) -> None:
    first = capped.post("/api/deployments", json=AWS_8B, headers=auth)
    assert first.status_code == 202, first.text
    assert uses_gpu(first.json()["estimate"])
    second = capped.post("/api/deployments", json={**AWS_8B, "name": "two"}, headers=auth)
    assert _error(second)["field"] == "gpu_instances"
    assert capped.delete(f"/api/deployments/{first.json()['id']}", headers=auth
                         ).status_code == 202
    third = capped.post("/api/deployments", json={**AWS_8B, "name": "three"}, headers=auth)
    assert third.status_code == 202


def test_webhooks_stop_at_the_cap(capped: TestClient, auth: dict[str, str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssrf, "system_resolver",
                        lambda _host, _port: [ipaddress.ip_address("93.184.215.14")])
    body = {"url": "https://hooks.example.com/x", "events": ["deployment.running"]}
    assert capped.post("/api/webhooks", json=body, headers=auth).status_code == 201
    assert _error(capped.post("/api/webhooks", json=body, headers=auth))["field"] == "webhooks"
