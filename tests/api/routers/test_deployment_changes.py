"""``PATCH /api/deployments/{id}`` on SQLite and PostgreSQL: a change is checked against the
catalog and the optimizer before anything is written, bumps the generation only when the
servers must change, clamps the replicas, records an event, supersedes the open
recommendation and nudges the agent; the owner's view shows the autopilot fields."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import bearer, register_and_login
from flowllama.db.autopilot_tables import Recommendation
from flowllama.db.tables import Deployment, DeploymentEvent, Instance
from flowllama.db.types import utcnow
from flowllama.domain.deployments import DeploymentCreate
from flowllama.errors import InvalidInput
from flowllama.platform import Platform

AWS_8B = {"name": "chat", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws"}


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return bearer(register_and_login(client))


def _create(client: TestClient, auth: dict[str, str], platform: Platform,
            body: dict[str, Any] | None = None) -> str:
    """A deployment whose creation nudge the agent already took (so a new one shows)."""
    response = client.post("/api/deployments", json=body or AWS_8B, headers=auth)
    assert response.status_code == 202, response.text
    _drain(platform)
    return str(response.json()["id"])


def _drain(platform: Platform) -> None:
    while (job := platform.queue.lease()) is not None:
        platform.queue.ack(job)


def _patch(client: TestClient, auth: dict[str, str], deployment_id: str,
           body: dict[str, Any]) -> Any:
    return client.patch(f"/api/deployments/{deployment_id}", json=body, headers=auth)


def _row(platform: Platform, deployment_id: str) -> Deployment:
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        session.expunge(row)
        return row


def _events(platform: Platform, deployment_id: str) -> list[str]:
    with platform.db.session() as session:
        return list(session.scalars(
            select(DeploymentEvent.reason).where(DeploymentEvent.deployment_id == deployment_id)
            .order_by(DeploymentEvent.id)).all())


def _recommend(platform: Platform, deployment_id: str) -> str:
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        rec = Recommendation(user_id=row.user_id, deployment_id=deployment_id,
                             placement={"cloud": "gcp", "region": "us-central1",
                                        "instance_type": "g2-standard-4", "spot": False,
                                        "price_per_hour": 0.5},
                             current_price_per_hour=1.0, new_price_per_hour=0.5,
                             monthly_saving_usd=365.0, saving_percent=50.0)
        session.add(rec)
        session.flush()
        return rec.id


def _recommendation_status(platform: Platform, rec_id: str) -> str:
    with platform.db.session() as session:
        rec = session.get(Recommendation, rec_id)
        assert rec is not None
        return rec.status


def test_a_context_change_bumps_the_generation_records_it_and_nudges(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth, platform)
    rec_id = _recommend(platform, deployment_id)
    assert client.get(f"/api/deployments/{deployment_id}", headers=auth
                      ).json()["recommendation"]["id"] == rec_id
    response = _patch(client, auth, deployment_id, {"context_size": 16384})
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["context_size"], body["generation"]) == (16384, 1)
    assert body["estimate"]["context_size"] == 16384  # re-priced for the new spec
    assert body["recommendation"] is None
    assert _recommendation_status(platform, rec_id) == "superseded"
    assert _events(platform, deployment_id)[-1] == "changed by user: context_size 8192 → 16384"
    assert platform.queue.depth().ready == 1


def test_the_same_change_again_changes_nothing(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth, platform)
    assert _patch(client, auth, deployment_id, {"context_size": 16384}).status_code == 202
    _drain(platform)
    events = _events(platform, deployment_id)
    again = _patch(client, auth, deployment_id, {"context_size": 16384, "cloud": "aws"})
    assert again.status_code == 200 and again.json()["generation"] == 1
    # The model's bare name resolves to the tag already recorded: no change either.
    assert _patch(client, auth, deployment_id, {"model": "llama3.1:8b"}).status_code == 200
    assert _patch(client, auth, deployment_id, {}).status_code == 200
    assert _events(platform, deployment_id) == events
    assert platform.queue.depth().ready == 0


def test_replicas_and_settings_need_no_new_servers(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth, platform)
    rec_id = _recommend(platform, deployment_id)
    response = _patch(client, auth, deployment_id, {"replicas": {"min": 2, "max": 4},
                                                    "idle_timeout_s": 1800, "auto_move": True})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["generation"] == 0
    assert body["replicas"] == {"min": 2, "max": 4, "desired": 2, "running": 0}
    assert (body["idle_timeout_s"], body["auto_move"]) == (1800, True)
    assert _recommendation_status(platform, rec_id) == "superseded"
    assert "replicas 1..1 → 2..4" in _events(platform, deployment_id)[-1]
    assert platform.queue.depth().ready == 1
    # The desired count is clamped into new bounds; null switches sleeping off.
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.replicas_desired = 4
    body = _patch(client, auth, deployment_id, {"replicas": {"min": 1, "max": 3},
                                                "idle_timeout_s": None}).json()
    assert body["replicas"]["desired"] == 3 and body["idle_timeout_s"] is None
    assert _row(platform, deployment_id).generation == 0


def test_a_settings_only_change_keeps_the_recommendation(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth, platform)
    rec_id = _recommend(platform, deployment_id)
    assert _patch(client, auth, deployment_id, {"auto_move": True}).status_code == 202
    assert _recommendation_status(platform, rec_id) == "open"


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"model": "llama9:999b"}, "model", "unknown_model"),
    ({"context_size": 1_000_000}, "context_size", "context_too_large"),
    ({"instance_type": "t3.micro"}, "instance_type", "no_feasible_offer"),
    ({"cloud": "local", "gpu": "H100"}, "gpu", "no_feasible_offer"),
    ({"region": "mars-north-1"}, "region", None),
    ({"cloud": "moon"}, "cloud", None),
    ({"replicas": {"min": 3, "max": 2}}, "replicas.min", "invalid_replicas"),
    ({"replicas": {"min": 1, "max": 17}}, "replicas.max", None),
    ({"replicas": {"min": 0, "max": 1}}, "replicas.min", None),
    ({"idle_timeout_s": 59}, "idle_timeout_s", None),
    ({"idle_timeout_s": 2_592_001}, "idle_timeout_s", None),
    ({"name": "renamed"}, "name", None),
])
def test_a_change_nothing_satisfies_is_422_and_writes_nothing(
        client: TestClient, auth: dict[str, str], platform: Platform,
        change: dict[str, Any], field: str, code: str | None) -> None:
    deployment_id = _create(client, auth, platform)
    before = _events(platform, deployment_id)
    # Valid parts of the same request are not applied either.
    response = _patch(client, auth, deployment_id, {"auto_move": True, **change})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["message"]
    if code:
        assert error["code"] == code
    row = _row(platform, deployment_id)
    assert (row.generation, row.context_size, row.auto_move, row.replicas_max) == (
        0, 8192, False, 1)
    assert _events(platform, deployment_id) == before
    assert platform.queue.depth().ready == 0


def test_another_tenants_deployment_is_404_and_a_deleted_one_409(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth, platform)
    mallory = bearer(register_and_login(client, "mallory@example.com"))
    assert _patch(client, mallory, deployment_id, {"context_size": 4096}).status_code == 404
    assert _patch(client, auth, "nope", {"context_size": 4096}).status_code == 404
    assert client.delete(f"/api/deployments/{deployment_id}", headers=auth).status_code == 202
    response = _patch(client, auth, deployment_id, {"context_size": 4096})
    assert response.status_code == 409 and response.json()["error"]["code"] == "deleting"
    assert _row(platform, deployment_id).context_size == 8192


def test_a_change_of_cloud_drops_the_old_clouds_region_and_clears_the_last_error(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth, platform, {**AWS_8B, "region": "us-east-1"})
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.rollout_error, row.placement_pin = "no capacity", {"cloud": "aws"}
    body = _patch(client, auth, deployment_id, {"cloud": "gcp"}).json()
    assert (body["cloud"], body["region"], body["generation"]) == ("gcp", None, 1)
    assert body["estimate"]["recommended"]["cloud"] == "gcp"
    assert body["rollout_error"] is None
    assert _row(platform, deployment_id).placement_pin is None


def test_an_external_server_changes_only_its_settings(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth, platform)
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.cloud = "external"
    model = _patch(client, auth, deployment_id, {"context_size": 4096})
    assert model.status_code == 422 and model.json()["error"]["field"] == "context_size"
    replicas = _patch(client, auth, deployment_id, {"replicas": {"min": 1, "max": 2}})
    assert replicas.status_code == 422
    assert replicas.json()["error"]["field"] == "replicas.max"
    assert _patch(client, auth, deployment_id, {"idle_timeout_s": 600}).status_code == 202


def test_the_view_shows_replicas_running_and_what_sleeping_saved(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _create(client, auth, platform)
    now = utcnow()
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.status, row.desired_state = "sleeping", "sleeping"
        row.asleep_seconds, row.asleep_since, row.wake_count = 3600.0, now, 2
        row.generation = 1
        session.add_all([
            Instance(deployment_id=deployment_id, provider="terraform", price_per_hour=2.0,
                     status="terminated", created_at=now - timedelta(hours=3),
                     terminated_at=now, generation=1),
        ])
    body = client.get(f"/api/deployments/{deployment_id}", headers=auth).json()
    assert body["wake_count"] == 2
    assert body["asleep_hours"] == pytest.approx(1.0, abs=0.01)
    assert body["saved_usd"] == pytest.approx(2.0, abs=0.05)
    assert body["replicas"]["running"] == 0 and body["price_per_hour"] is None
    with platform.db.session() as session:
        session.add_all([
            Instance(deployment_id=deployment_id, provider="terraform", price_per_hour=1.0,
                     status="healthy", generation=1, slot=""),
            Instance(deployment_id=deployment_id, provider="terraform", price_per_hour=1.0,
                     status="healthy", generation=1, slot="s1"),
            Instance(deployment_id=deployment_id, provider="terraform", price_per_hour=1.0,
                     status="draining", generation=0, slot="s2", draining_since=now),
        ])
    body = client.get(f"/api/deployments/{deployment_id}", headers=auth).json()
    # Two current servers count as running; all three are billed while the old one drains.
    assert body["replicas"]["running"] == 2 and body["price_per_hour"] == 3.0


def test_a_local_change_must_fit_this_machine(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    local = {"name": "here", "model": "llama3.2:1b", "context_size": 2048, "cloud": "local"}
    deployment_id = _create(client, auth, platform, local)
    checked: list[DeploymentCreate] = []

    def full(body: DeploymentCreate) -> None:
        checked.append(body)
        raise InvalidInput("needs 3 GiB, 1 GiB free", field="context_size",
                           code="insufficient_memory")

    platform.local_check = full
    bigger = _patch(client, auth, deployment_id, {"context_size": 4096})
    assert bigger.status_code == 422
    assert (bigger.json()["error"]["field"], bigger.json()["error"]["code"]) == (
        "context_size", "insufficient_memory")
    assert checked[-1].context_size == 4096
    more = _patch(client, auth, deployment_id, {"replicas": {"min": 1, "max": 2}})
    assert more.status_code == 422
    assert (more.json()["error"]["field"], more.json()["error"]["code"]) == (
        "replicas.max", "insufficient_memory")
    # Fewer replicas and settings need no room.
    assert _patch(client, auth, deployment_id, {"idle_timeout_s": 60}).status_code == 202
    row = _row(platform, deployment_id)
    assert (row.context_size, row.replicas_max, row.generation) == (2048, 1, 0)
