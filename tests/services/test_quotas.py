"""Per-account quotas by tier, through the API on SQLite and PostgreSQL: each cap holds,
under parallel creates and changes too, names the resource, and frees up when things are
deleted; ``gpu_instances`` counts GPU servers (``replicas.max`` of each GPU deployment), on
create and on PATCH; a request that repeats a winner's Idempotency-Key gets its answer, not
a refusal."""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import bearer, register_and_login
from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.platform import build_platform
from flowllama.server import ALL_ROLES
from flowllama.services.quotas import gpu_servers, uses_gpu
from flowllama.settings import QuotaSettings, Settings, TierQuota
from flowllama.webhooks import ssrf

AWS_8B = {"name": "chat", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws"}
AWS_SMALL = {"name": "small", "model": "qwen2.5:0.5b", "cloud": "aws"}  # a CPU offer
CAPS = TierQuota(deployments=2, gpu_instances=1, api_keys=3, webhooks=1)


@contextmanager
def _app(settings: Settings, database: Database, caps: TierQuota) -> Iterator[TestClient]:
    quotas = QuotaSettings(tiers={"free": caps, "unlimited": TierQuota()})
    platform = build_platform(settings.model_copy(update={"quotas": quotas}), db=database)
    with TestClient(create_app(platform, ALL_ROLES)) as client:
        yield client


@pytest.fixture
def capped(settings: Settings, database: Database) -> Iterator[TestClient]:
    with _app(settings, database, CAPS) as client:
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


def _deploy(client: TestClient, auth: dict[str, str], body: dict[str, Any]) -> str:
    response = client.post("/api/deployments", json=body, headers=auth)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _patch(client: TestClient, auth: dict[str, str], deployment_id: str,
           body: dict[str, Any]) -> Any:
    return client.patch(f"/api/deployments/{deployment_id}", json=body, headers=auth)


def test_gpu_servers_counts_every_offer_the_agent_may_use_times_replicas_max() -> None:
    cpu, gpu = {"gpu_count": 0}, {"gpu_count": 4}
    assert gpu_servers({"recommended": cpu, "candidates": [cpu]}, None, 5) == 0
    # The agent falls back through the candidates, and an accepted move's pin comes first.
    assert gpu_servers({"recommended": cpu, "candidates": [cpu, gpu]}, None, 3) == 3
    assert gpu_servers({"recommended": cpu, "candidates": [cpu]}, gpu, 2) == 2
    # Servers, not GPUs: a 4-GPU server is one GPU instance.
    assert gpu_servers({"recommended": gpu, "candidates": [gpu]}, None, 1) == 1


def test_a_patch_onto_a_gpu_past_the_cap_is_refused(capped: TestClient,
                                                    auth: dict[str, str]) -> None:
    chat = _deploy(capped, auth, AWS_8B)
    small = _deploy(capped, auth, AWS_SMALL)
    before = capped.get(f"/api/deployments/{small}", headers=auth).json()
    assert not uses_gpu(before["estimate"])
    refused = _patch(capped, auth, small, {"model": "llama3.1:8b"})
    assert _error(refused)["field"] == "gpu_instances"
    after = capped.get(f"/api/deployments/{small}", headers=auth).json()
    assert (after["model"], after["estimate"]) == (before["model"], before["estimate"])
    # Once the GPU deployment is on its way out, the same change fits.
    assert capped.delete(f"/api/deployments/{chat}", headers=auth).status_code == 202
    moved = _patch(capped, auth, small, {"model": "llama3.1:8b"})
    assert moved.status_code == 202, moved.text
    assert uses_gpu(moved.json()["estimate"])


def test_replicas_max_of_a_gpu_deployment_past_the_cap_is_refused(
        capped: TestClient, auth: dict[str, str]) -> None:
    chat = _deploy(capped, auth, AWS_8B)
    refused = _patch(capped, auth, chat, {"replicas": {"min": 1, "max": 6}})
    assert _error(refused)["field"] == "gpu_instances"
    view = capped.get(f"/api/deployments/{chat}", headers=auth).json()
    assert (view["replicas"]["min"], view["replicas"]["max"]) == (1, 1)


def test_changes_within_the_caps_pass_and_do_not_count_as_new_deployments(
        capped: TestClient, auth: dict[str, str]) -> None:
    chat = _deploy(capped, auth, AWS_8B)
    small = _deploy(capped, auth, AWS_SMALL)  # the account is at its 2 deployments now
    # Still one GPU server: a new spec of the GPU deployment.
    assert _patch(capped, auth, chat, {"context_size": 4096}).status_code == 202
    # CPU servers are not GPU instances: replicas of the CPU deployment are free.
    assert _patch(capped, auth, small, {"replicas": {"min": 1, "max": 3}}).status_code == 202
    third = capped.post("/api/deployments", json={**AWS_SMALL, "name": "third"}, headers=auth)
    assert _error(third)["field"] == "deployments"


def test_parallel_gpu_creates_stop_at_the_cap(settings: Settings, database: Database) -> None:
    with _app(settings, database, TierQuota(gpu_instances=3)) as client:
        auth = bearer(register_and_login(client))
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = Counter(pool.map(lambda i: client.post(
                "/api/deployments", json={**AWS_8B, "name": f"gpu-{i}"}, headers=auth
            ).status_code, range(10)))
        assert statuses == {202: 3, 403: 7}


def test_parallel_patches_onto_a_gpu_stop_at_the_cap(settings: Settings,
                                                     database: Database) -> None:
    with _app(settings, database, TierQuota(gpu_instances=1)) as client:
        auth = bearer(register_and_login(client))
        ids = [_deploy(client, auth, {**AWS_SMALL, "name": f"cpu-{i}"}) for i in range(4)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = Counter(pool.map(lambda deployment_id: _patch(
                client, auth, deployment_id, {"model": "llama3.1:8b"}).status_code, ids))
        assert statuses == {202: 1, 403: 3}


def test_racers_with_one_idempotency_key_all_get_the_winners_answer_at_the_cap(
        settings: Settings, database: Database) -> None:
    racers = 10
    with _app(settings, database, TierQuota(deployments=1, gpu_instances=1)) as client:
        auth = bearer(register_and_login(client))
        start = threading.Barrier(racers)

        def create(_: int) -> tuple[int, str]:
            start.wait()
            response = client.post("/api/deployments", json=AWS_8B,
                                   headers={**auth, "Idempotency-Key": "one-key"})
            return response.status_code, str(response.json().get("id", response.text))

        with ThreadPoolExecutor(max_workers=racers) as pool:
            answers = Counter(pool.map(create, range(racers)))
        [winner] = client.get("/api/deployments", headers=auth).json()["items"]
        assert answers == {(202, winner["id"]): racers}
