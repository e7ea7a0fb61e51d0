"""The deployments API on SQLite and PostgreSQL: validation against the catalog and the
optimizer, idempotent creation, owner scoping, pagination, actions and the nudges they queue."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import bearer, register_and_login
from flowllama.db.tables import Deployment, Instance
from flowllama.platform import Platform

AWS_8B = {"name": "chat", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws"}


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return bearer(register_and_login(client))


def _create(client: TestClient, auth: dict[str, str], body: dict[str, Any] | None = None,
            **headers: str) -> Any:
    return client.post("/api/deployments", json=body or AWS_8B, headers={**auth, **headers})


def _ready_jobs(platform: Platform) -> int:
    return platform.queue.depth().ready


def test_create_returns_202_with_estimate_and_queues_one_nudge(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    response = _create(client, auth)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending" and body["desired_state"] == "running"
    assert body["estimate"]["recommended"]["cloud"] == "aws"
    assert body["estimate"]["candidates"], "the agent needs ranked offers to try"
    assert _ready_jobs(platform) == 1
    events = client.get(f"/api/deployments/{body['id']}/events", headers=auth).json()
    assert [(e["from_status"], e["to_status"]) for e in events] == [(None, "pending")]


def test_same_idempotency_key_and_body_is_the_same_deployment(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    first = _create(client, auth, **{"Idempotency-Key": "k-1"})
    again = _create(client, auth, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert _ready_jobs(platform) == 1
    other = _create(client, auth, {**AWS_8B, "name": "other"}, **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("name", ["", "Chat", "a_b", "x" * 64, "spaces here", "é"])
def test_bad_names_are_422(client: TestClient, auth: dict[str, str], name: str) -> None:
    response = _create(client, auth, {**AWS_8B, "name": name})
    assert response.status_code == 422
    assert response.json()["error"]["field"].endswith("name")


def test_duplicate_name_is_409_and_creates_nothing(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    assert _create(client, auth).status_code == 202
    response = _create(client, auth)
    assert response.status_code == 409 and response.json()["error"]["field"] == "name"
    assert client.get("/api/deployments", headers=auth).json()["total"] == 1
    assert _ready_jobs(platform) == 1


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"model": "llama9:999b"}, "model", "unknown_model"),
    ({"context_size": 1_000_000}, "context_size", "context_too_large"),
    ({"instance_type": "t3.micro"}, "instance_type", "no_feasible_offer"),
    ({"cloud": "local", "gpu": "H100"}, "gpu", "no_feasible_offer"),
    ({"cloud": "moon"}, "cloud", None),
])
def test_requests_the_optimizer_cannot_satisfy_are_422_and_queue_nothing(
        client: TestClient, auth: dict[str, str], platform: Platform,
        change: dict[str, Any], field: str, code: str | None) -> None:
    response = _create(client, auth, {**AWS_8B, **change})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"].endswith(field)
    if code:
        assert error["code"] == code
    assert _ready_jobs(platform) == 0


def test_another_users_deployment_is_404_everywhere(client: TestClient,
                                                     auth: dict[str, str]) -> None:
    deployment_id = _create(client, auth).json()["id"]
    mallory = bearer(register_and_login(client, "mallory@example.com"))
    base = f"/api/deployments/{deployment_id}"
    assert client.get(base, headers=mallory).status_code == 404
    assert client.get(f"{base}/events", headers=mallory).status_code == 404
    assert client.post(f"{base}/stop", headers=mallory).status_code == 404
    assert client.delete(base, headers=mallory).status_code == 404
    assert client.get("/api/deployments", headers=mallory).json()["total"] == 0
    assert client.get(base, headers=auth).json()["desired_state"] == "running"


def test_list_is_paginated_newest_first(client: TestClient, auth: dict[str, str]) -> None:
    for name in ("one", "two", "three"):
        assert _create(client, auth, {**AWS_8B, "name": name}).status_code == 202
    page = client.get("/api/deployments?limit=2", headers=auth).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    rest = client.get("/api/deployments?limit=2&offset=2", headers=auth).json()
    names = [item["name"] for item in page["items"] + rest["items"]]
    assert sorted(names) == ["one", "three", "two"]
    assert client.get("/api/deployments?limit=0", headers=auth).status_code == 422


def test_actions_record_the_desire_and_nudge(client: TestClient, auth: dict[str, str],
                                            platform: Platform) -> None:
    deployment_id = _create(client, auth).json()["id"]
    base = f"/api/deployments/{deployment_id}"
    stopped = client.post(f"{base}/stop", headers=auth)
    assert stopped.status_code == 202 and stopped.json()["desired_state"] == "stopped"
    assert client.post(f"{base}/start", headers=auth).json()["desired_state"] == "running"
    restart = client.post(f"{base}/restart", headers=auth)
    assert restart.status_code == 409 and restart.json()["error"]["code"] == "not_running"
    assert client.post(f"{base}/explode", headers=auth).status_code == 422
    assert _ready_jobs(platform) == 1  # one pending nudge per deployment is enough


def test_restart_of_a_running_deployment_goes_through_stopping(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth).json()["id"]
    with platform.db.session() as session:
        row = session.scalar(select(Deployment).where(Deployment.id == deployment_id))
        assert row is not None
        row.status = "running"
    response = client.post(f"/api/deployments/{deployment_id}/restart", headers=auth)
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["desired_state"]) == ("stopping",
                                                                            "running")


def test_delete_is_accepted_then_refuses_further_actions(
        client: TestClient, auth: dict[str, str]) -> None:
    deployment_id = _create(client, auth).json()["id"]
    base = f"/api/deployments/{deployment_id}"
    response = client.delete(base, headers=auth)
    assert response.status_code == 202 and response.json()["desired_state"] == "deleted"
    assert client.post(f"{base}/start", headers=auth).status_code == 409


def test_endpoints_need_a_login(client: TestClient) -> None:
    assert client.get("/api/deployments").status_code == 401
    assert client.post("/api/deployments", json=AWS_8B).status_code == 401


@pytest.mark.parametrize("cloud", ["aws", "auto"])
def test_a_cloud_that_is_not_configured_is_refused_before_anything_is_queued(
        client: TestClient, auth: dict[str, str], platform: Platform, cloud: str) -> None:
    platform.settings.clouds.aws.enabled = False
    platform.settings.clouds.gcp.enabled = False
    response = _create(client, auth, {**AWS_8B, "cloud": cloud})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("cloud_not_configured", "cloud")
    assert "FLOWLLAMA_CLOUDS__" in error["message"]
    assert _ready_jobs(platform) == 0
    with platform.db.session() as session:
        assert session.scalars(select(Deployment)).all() == []


def test_a_deployment_shows_where_it_runs_and_what_it_is_billed(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    created = _create(client, auth).json()
    handle = {"kind": "terraform", "deployment_id": created["id"], "name": f"fl-{created['id']}",
              "data": {"outputs": {"instance_id": "i-0123456789abcdef0",
                                   "private_ip": "10.0.1.5", "public_ip": None}}}
    with platform.db.session() as session:
        session.add(Instance(deployment_id=created["id"], provider="terraform", handle=handle,
                             cloud="aws", region="us-east-1", zone=None,
                             instance_type="g6.xlarge", spot=True, price_per_hour=0.3512,
                             endpoint_url="http://10.0.1.5:11434", status="healthy"))
    body = client.get(f"/api/deployments/{created['id']}", headers=auth).json()
    assert body["placement"] == {"cloud": "aws", "region": "us-east-1", "zone": None,
                                 "instance_type": "g6.xlarge", "spot": True,
                                 "price_per_hour": 0.3512}
    assert body["price_per_hour"] == 0.3512
    instance = body["instances"][0]
    # The cloud's server id, but not the server's addresses: users go through the gateway.
    assert (instance["server_id"], instance["private_ip"], instance["public_ip"],
            instance["endpoint_url"]) == ("i-0123456789abcdef0", None, None, None)
    assert body["endpoint_url"].endswith("/v1") and body["endpoint_model"] == created["name"]
    assert "handle" not in instance


def test_a_bare_name_and_no_context_get_the_catalog_tag_and_its_default(
        client: TestClient, auth: dict[str, str]) -> None:
    response = _create(client, auth, {"name": "bare", "model": "mistral", "cloud": "aws"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["model"] == "mistral:7b"
    assert body["context_size"] == 4096 == body["estimate"]["context_size"]


def test_a_small_model_on_auto_gets_a_cpu_instance_unless_refused(
        client: TestClient, auth: dict[str, str]) -> None:
    small = {"name": "small", "model": "qwen2.5:0.5b", "cloud": "aws"}
    cpu = _create(client, auth, small).json()["estimate"]["recommended"]
    gpu = _create(client, auth, {**small, "name": "small-gpu", "allow_cpu": False}
                  ).json()["estimate"]["recommended"]
    assert cpu["gpu"] is None and gpu["gpu"] is not None
    assert cpu["price_per_month"] < gpu["price_per_month"]


def test_logs_of_a_cloud_deployment_say_where_they_really_are(
        client: TestClient, auth: dict[str, str]) -> None:
    created = _create(client, auth).json()
    logs = client.get(f"/api/deployments/{created['id']}/logs", headers=auth).json()
    assert logs["source"] == "none" and logs["lines"] == []
    assert "CloudWatch Logs" in logs["message"] and "EFK" not in logs["message"]
