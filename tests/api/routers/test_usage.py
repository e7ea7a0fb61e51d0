"""The usage API on SQLite and PostgreSQL: owner-scoped rollup rows grouped by day, key and
deployment, cost attributed from instance $/h in proportion to tokens, range validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import bearer, register_and_login
from flowllama.db.tables import Deployment, Instance, UsageDaily, User
from flowllama.db.types import utcnow
from flowllama.platform import Platform


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return bearer(register_and_login(client))


def _seed(client: TestClient, auth: dict[str, str], platform: Platform) -> dict[str, Any]:
    keys = [client.post("/api/keys", json={"name": n}, headers=auth).json()
            for n in ("one", "two")]
    today = utcnow().date()
    with platform.db.session() as session:
        user = session.scalars(select(User)).one()
        bot = Deployment(user_id=user.id, name="bot", model="m", context_size=512,
                         status="running")
        session.add(bot)
        session.flush()
        # $2/h for exactly the last hour: $2 of hardware for this deployment's tokens.
        session.add(Instance(deployment_id=bot.id, provider="local", price_per_hour=2.0,
                             created_at=utcnow() - timedelta(hours=1),
                             terminated_at=utcnow()))
        for day, key, prompt, completion in [
                (today, keys[0], 300, 100), (today, keys[1], 100, 100),
                (today - timedelta(days=1), keys[0], 10, 10)]:
            session.add(UsageDaily(day=day, user_id=user.id, api_key_id=key["id"],
                                   deployment_id=bot.id, model="m", requests=2,
                                   prompt_tokens=prompt, completion_tokens=completion))
    return {"keys": keys, "deployment_id": bot.id, "today": today}


def test_group_by_key_deployment_and_day(client: TestClient, auth: dict[str, str],
                                         platform: Platform) -> None:
    seed = _seed(client, auth, platform)
    today: date = seed["today"]
    params = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}

    by_day = client.get("/api/usage", params=params, headers=auth)
    assert by_day.status_code == 200, by_day.text
    body = by_day.json()
    assert body["from"] == params["from"] and body["group_by"] == "day"
    assert [(i["group"], i["total_tokens"]) for i in body["items"]] == [
        (params["from"], 20), (today.isoformat(), 600)]
    total = body["total"]
    assert (total["requests"], total["total_tokens"]) == (6, 620)
    assert total["cost_usd"] == pytest.approx(2.0, rel=1e-3)
    assert total["usd_per_million_tokens"] == pytest.approx(2.0 / 620 * 1e6, rel=1e-3)

    by_key = client.get("/api/usage", params={**params, "group_by": "key"}, headers=auth).json()
    one, two = seed["keys"]
    assert {i["group"]: i["total_tokens"] for i in by_key["items"]} == {
        one["id"]: 420, two["id"]: 200}
    assert {i["label"] for i in by_key["items"]} == {
        f"one ({one['prefix']}…)", f"two ({two['prefix']}…)"}
    costs = {i["group"]: i["cost_usd"] for i in by_key["items"]}
    assert costs[one["id"]] == pytest.approx(2.0 * 420 / 620, rel=1e-3)

    by_dep = client.get("/api/usage", params={**params, "group_by": "deployment"},
                        headers=auth).json()
    assert [(i["group"], i["label"]) for i in by_dep["items"]] == [(seed["deployment_id"], "bot")]


def test_usage_is_owner_scoped_and_defaults_to_this_month(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    _seed(client, auth, platform)
    mallory = bearer(register_and_login(client, "mallory@example.com"))
    body = client.get("/api/usage", headers=mallory).json()
    assert body["items"] == [] and body["total"]["requests"] == 0
    assert body["total"]["usd_per_million_tokens"] is None
    mine = client.get("/api/usage", headers=auth).json()
    assert mine["from"] == datetime.now(UTC).date().replace(day=1).isoformat()
    assert mine["total"]["requests"] >= 4


@pytest.mark.parametrize("params", [
    {"from": "2026-02-01", "to": "2026-01-01"},
    {"from": "2020-01-01", "to": "2026-01-01"},
    {"group_by": "model"},
    {"from": "yesterday"},
])
def test_bad_queries_are_422(client: TestClient, auth: dict[str, str],
                             params: dict[str, str]) -> None:
    assert client.get("/api/usage", params=params, headers=auth).status_code == 422


def test_usage_needs_a_login(client: TestClient) -> None:
    assert client.get("/api/usage").status_code == 401
