"""The budgets API on SQLite and PostgreSQL: set, change, list and remove the user's budget and
key budgets; bad input is a 422 naming the field; another tenant's key is a 404; the month's
spend and projection from ``/api/usage/spend``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import bearer, register_and_login
from flowllama.db.autopilot_tables import Budget, BudgetAlert
from flowllama.db.tables import Deployment, Instance, User
from flowllama.db.types import utcnow
from flowllama.platform import Platform
from flowllama.services.spend import month_of


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return bearer(register_and_login(client))


def test_user_and_key_budgets_round_trip(client: TestClient, auth: dict[str, str]) -> None:
    key = client.post("/api/keys", json={"name": "ci"}, headers=auth).json()
    assert client.get("/api/budgets", headers=auth).json() == []

    put = client.put("/api/budgets/user", json={"monthly_usd": 50, "action": "stop"},
                     headers=auth)
    assert put.status_code == 200, put.text
    assert put.json() | {"alerts": None} == {
        "scope": "user", "api_key_id": None, "label": "All deployments", "monthly_usd": 50.0,
        "action": "stop", "spent_usd": 0.0, "percent": 0.0, "alerts": None}
    keyed = client.put(f"/api/budgets/keys/{key['id']}", json={"monthly_usd": 5.5},
                       headers=auth)
    assert keyed.status_code == 200, keyed.text
    assert (keyed.json()["scope"], keyed.json()["action"], keyed.json()["label"]) == (
        "key", "warn", "key ci")

    changed = client.put("/api/budgets/user", json={"monthly_usd": 80, "action": "warn"},
                         headers=auth)
    assert (changed.json()["monthly_usd"], changed.json()["action"]) == (80.0, "warn")
    listed = client.get("/api/budgets", headers=auth).json()
    assert [(b["scope"], b["api_key_id"], b["monthly_usd"]) for b in listed] == [
        ("user", None, 80.0), ("key", key["id"], 5.5)]

    assert client.delete("/api/budgets/user", headers=auth).status_code == 204
    assert client.delete("/api/budgets/user", headers=auth).status_code == 404
    assert client.delete(f"/api/budgets/keys/{key['id']}", headers=auth).status_code == 204
    assert client.get("/api/budgets", headers=auth).json() == []


@pytest.mark.parametrize(("body", "field"), [
    ({"monthly_usd": 0}, "monthly_usd"),
    ({"monthly_usd": -3}, "monthly_usd"),
    ({"monthly_usd": 1e12}, "monthly_usd"),
    ({"monthly_usd": "lots"}, "monthly_usd"),
    ({}, "monthly_usd"),
    ({"monthly_usd": 10, "action": "pause"}, "action"),
    ({"monthly_usd": 10, "extra": 1}, "extra"),
])
def test_bad_input_is_422_naming_the_field(client: TestClient, auth: dict[str, str],
                                           body: dict[str, Any], field: str) -> None:
    response = client.put("/api/budgets/user", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert client.get("/api/budgets", headers=auth).json() == []


def test_another_tenants_key_is_404(client: TestClient, auth: dict[str, str]) -> None:
    theirs = bearer(register_and_login(client, "eve@example.com"))
    key = client.post("/api/keys", json={"name": "eve"}, headers=theirs).json()
    body = {"monthly_usd": 5, "action": "stop"}
    assert client.put(f"/api/budgets/keys/{key['id']}", json=body,
                      headers=auth).status_code == 404
    assert client.put("/api/budgets/keys/nope", json=body, headers=auth).status_code == 404
    assert client.put(f"/api/budgets/keys/{key['id']}", json=body,
                      headers=theirs).status_code == 200
    assert client.delete(f"/api/budgets/keys/{key['id']}", headers=auth).status_code == 404
    assert client.get("/api/budgets", headers=auth).json() == []
    client.delete(f"/api/keys/{key['id']}", headers=theirs)  # revoked: no new budget for it
    assert client.put(f"/api/budgets/keys/{key['id']}", json=body,
                      headers=theirs).status_code == 404


def test_spend_shows_the_month_projection_budgets_and_alerts(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    client.put("/api/budgets/user", json={"monthly_usd": 8, "action": "warn"}, headers=auth)
    now = utcnow()
    month = month_of(now)
    with platform.db.session() as session:
        user = session.scalars(select(User)).one()
        bot = Deployment(user_id=user.id, name="bot", model="m", context_size=512)
        session.add(bot)
        session.flush()
        # $4 spent this month: $4/h for one hour, ended (so nothing burns for the rest)
        start = max(month.start, now - timedelta(hours=1))
        session.add(Instance(deployment_id=bot.id, provider="local", price_per_hour=4.0,
                             created_at=start, terminated_at=start + timedelta(hours=1)))
        budget_id = session.scalars(select(Budget.id)).one()
        session.add(BudgetAlert(budget_id=budget_id, month=month.label, threshold=50,
                                spend_usd=4.0, action_taken="warned"))
        session.add(BudgetAlert(budget_id=budget_id, month="1999-01", threshold=80,
                                spend_usd=7.0, action_taken="warned"))
    body = client.get("/api/usage/spend", headers=auth).json()
    hours = (min(start + timedelta(hours=1), now) - start).total_seconds() / 3600
    assert body["month"] == month.label
    assert body["server_usd"] == pytest.approx(4.0 * hours, abs=1e-4)
    assert body["tokens_usd"] == 0.0 and body["spend_usd"] == body["server_usd"]
    assert body["projection_usd"] == pytest.approx(body["spend_usd"], abs=1e-4)
    [budget] = body["budgets"]
    assert budget["spent_usd"] == pytest.approx(body["spend_usd"])
    assert budget["percent"] == pytest.approx(body["spend_usd"] / 8 * 100, abs=0.01)
    assert [(a["threshold"], a["action_taken"]) for a in budget["alerts"]] == [(50, "warned")]
    theirs = bearer(register_and_login(client, "eve@example.com"))
    assert client.get("/api/usage/spend", headers=theirs).json()["budgets"] == []
