"""The deployments service below the API: cost so far, the owner's view, idempotent create
(also when ten requests with one key race, on SQLite and PostgreSQL, and when the winner
fills the account's quota: the losers get its answer, not a refusal)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, User
from flowllama.db.types import utcnow
from flowllama.domain.deployments import DeploymentCreate
from flowllama.errors import Conflict
from flowllama.services import deployments
from flowllama.settings import QuotaSettings, TierQuota


def _estimate(_body: DeploymentCreate) -> dict[str, Any]:
    return {"candidates": []}


def test_cost_so_far_sums_each_instance_over_its_life() -> None:
    now = utcnow()
    rows = [
        Instance(price_per_hour=2.0, created_at=now - timedelta(hours=3),
                 terminated_at=now - timedelta(hours=1)),  # 2 h at $2
        Instance(price_per_hour=1.0, created_at=now - timedelta(minutes=30)),  # live, 0.5 h
        Instance(price_per_hour=None, created_at=now - timedelta(hours=5)),  # unpriced
    ]
    assert deployments.cost_so_far(rows) == pytest.approx(4.5, abs=0.01)


def test_view_shows_the_gateway_and_the_live_instance(database: Database) -> None:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        created = deployments.create(session, user, DeploymentCreate(
            name="chat", model="local/tiny", context_size=512, cloud="local"), _estimate)
        row = created.deployment
        session.add_all([
            Instance(deployment_id=row.id, provider="local", endpoint_url="http://old/v1",
                     price_per_hour=0.0, terminated_at=utcnow(), status="terminated"),
            Instance(deployment_id=row.id, provider="local", endpoint_url="http://new/v1",
                     price_per_hour=0.0, status="healthy"),
        ])
        session.flush()
        view = deployments.Viewer("https://tokenapi.example.com/v1").view(session, row)
        operator = deployments.Viewer("https://t/v1", operator=True).view(session, row)
    # Users see the gateway (keys, limits and metering apply), never a runtime's own address.
    assert (view.endpoint_url, view.endpoint_model) == ("https://tokenapi.example.com/v1", "chat")
    assert [i.endpoint_url for i in view.instances] == [None, None]
    assert [i.endpoint_url for i in operator.instances] == ["http://old/v1", "http://new/v1"]
    assert view.price_per_hour == 0.0


def test_idempotent_create_replays_and_refuses_a_changed_body(database: Database) -> None:
    body = DeploymentCreate(name="chat", model="local/tiny", context_size=512, cloud="local")
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        first = deployments.create(session, user, body, _estimate, "key-1")
        again = deployments.create(session, user, body, _estimate, "key-1")
        assert first.new and not again.new
        assert again.deployment.id == first.deployment.id
        changed = body.model_copy(update={"context_size": 1024})
        with pytest.raises(Conflict):
            deployments.create(session, user, changed, _estimate, "key-1")
        assert session.query(Deployment).count() == 1


def _gpu_estimate(_body: DeploymentCreate) -> dict[str, Any]:
    offer = {"cloud": "aws", "instance_type": "g5.xlarge", "gpu_count": 1}
    return {"recommended": offer, "candidates": [offer]}


@pytest.mark.parametrize("cap", [None, TierQuota(deployments=1), TierQuota(gpu_instances=1)],
                         ids=["no-quota", "deployments-cap", "gpu-cap"])
def test_concurrent_creates_with_one_idempotency_key_all_get_the_winners_answer(
        database: Database, cap: TierQuota | None) -> None:
    body = DeploymentCreate(name="chat", model="local/tiny", context_size=512, cloud="local")
    quota = None if cap is None else QuotaSettings(tiers={"free": cap})
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x", tier="free")
        session.add(user)
    racers = 10
    start = threading.Barrier(racers)

    def create() -> tuple[str, bool]:
        start.wait()
        with database.session() as session:
            created = deployments.create(session, user, body, _gpu_estimate, "same-key",
                                         quota=quota)
            return created.deployment.id, created.new

    with ThreadPoolExecutor(racers) as pool:
        answers = list(pool.map(lambda _: create(), range(racers)))
    assert len({deployment_id for deployment_id, _ in answers}) == 1
    assert sorted(new for _, new in answers) == [False] * (racers - 1) + [True]
    with database.session() as session:
        assert session.query(Deployment).count() == 1
