"""The recommendations API on SQLite and PostgreSQL: list, accept (202, generation bump, pin,
one nudge), dismiss; another tenant's is a 404, a decided one a 409."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import bearer, register_and_login
from flowllama.autopilot.advisor import PlacementAdvisor
from flowllama.db.tables import Deployment, User
from flowllama.platform import Platform
from flowllama.services.deployment_estimates import DeploymentEstimator
from flowllama.services.recommendations import Thresholds
from price_drops import drop_price, running_deployment


def _advise(platform: Platform) -> None:
    PlacementAdvisor(platform.db, platform.queue, DeploymentEstimator(platform.catalog),
                     prices=platform.catalog.prices, thresholds=Thresholds(10, 10),
                     interval_s=3600).advise_all()


@pytest.fixture
def setup(client: TestClient, platform: Platform) -> tuple[dict[str, str], str]:
    """An owner's headers and their running deployment with one open recommendation."""
    headers = bearer(register_and_login(client))
    running = running_deployment(platform)
    with platform.db.session() as session:  # the deployment belongs to the logged-in owner
        owner = session.scalar(select(User).where(User.email == "ada@example.com"))
        assert owner is not None and owner.id == running.user_id
    drop_price(platform, running)
    _advise(platform)
    return headers, running.deployment_id


def test_list_then_accept_moves_the_deployment(
        client: TestClient, platform: Platform, setup: tuple[dict[str, str], str]) -> None:
    headers, deployment_id = setup
    base = f"/api/deployments/{deployment_id}/recommendations"
    listed = client.get(base, headers=headers)
    assert listed.status_code == 200, listed.text
    [shown] = listed.json()
    assert set(shown) == {"id", "status", "placement", "current_price_per_hour",
                          "new_price_per_hour", "monthly_saving_usd", "saving_percent",
                          "created_at", "decided_at"}
    assert shown["status"] == "open" and shown["monthly_saving_usd"] > 10
    accepted = client.post(f"{base}/{shown['id']}/accept", headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["decided_at"]
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        assert (row.generation, row.placement_pin) == (1, shown["placement"])
    assert platform.queue.depth().ready == 1  # the agent is nudged to move it
    events = client.get(f"/api/deployments/{deployment_id}/events", headers=headers).json()
    assert any(e["reason"].startswith("moving to ") for e in events)
    again = client.post(f"{base}/{shown['id']}/accept", headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_open"


def test_dismiss_then_no_accept(client: TestClient, setup: tuple[dict[str, str], str]) -> None:
    headers, deployment_id = setup
    base = f"/api/deployments/{deployment_id}/recommendations"
    [shown] = client.get(base, headers=headers).json()
    dismissed = client.post(f"{base}/{shown['id']}/dismiss", headers=headers)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert client.post(f"{base}/{shown['id']}/accept", headers=headers).status_code == 409
    assert client.post(f"{base}/{shown['id']}/dismiss", headers=headers).status_code == 409


def test_another_tenant_gets_404_everywhere(
        client: TestClient, platform: Platform, setup: tuple[dict[str, str], str]) -> None:
    headers, deployment_id = setup
    base = f"/api/deployments/{deployment_id}/recommendations"
    [shown] = client.get(base, headers=headers).json()
    mallory = bearer(register_and_login(client, "mallory@example.com"))
    assert client.get(base, headers=mallory).status_code == 404
    for action in ("accept", "dismiss"):
        response = client.post(f"{base}/{shown['id']}/{action}", headers=mallory)
        assert response.status_code == 404, response.text
    assert client.post(f"{base}/nope/accept", headers=headers).status_code == 404
    assert client.get(base, headers=headers).json()[0]["status"] == "open"
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.generation == 0
