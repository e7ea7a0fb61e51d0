"""Results become instance status and, past the threshold, an unhealthy deployment and a heal
nudge; a recovery before healing brings it back; a deployment the agent holds is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance
from flowllama.db.types import utcnow
from flowllama.monitor.probes import Health, ProbeResult, Target
from flowllama.monitor.verdicts import HealPolicy, Verdicts
from flowllama.queue import DatabaseQueue

from .conftest import serving_deployment

DOWN = ProbeResult(Health.UNHEALTHY, 2.0, "health check failed: ConnectError")
UP = ProbeResult(Health.HEALTHY, 1.5)


def _setup(database: Database) -> tuple[Verdicts, DatabaseQueue, Target]:
    deployment_id, [instance_id] = serving_deployment(database, "http://127.0.0.1:1/v1")
    queue = DatabaseQueue(database)
    verdicts = Verdicts(database, queue, HealPolicy(failures_before_unhealthy=2,
                                                    heal_backoff_s=0))
    target = Target(instance_id=instance_id, deployment_id=deployment_id, model="local/tiny",
                    runtime="llamacpp", server_url="http://127.0.0.1:1",
                    health_path="/v1/models", expects_gpu=False)
    return verdicts, queue, target


def _state(database: Database, target: Target) -> tuple[str, str, int]:
    with database.session() as session:
        deployment = session.get(Deployment, target.deployment_id)
        instance = session.get(Instance, target.instance_id)
        assert deployment is not None and instance is not None
        return deployment.status, instance.status, instance.consecutive_failures


def test_consecutive_failures_make_it_unhealthy_and_ask_for_healing(database: Database) -> None:
    verdicts, queue, target = _setup(database)
    verdicts.apply(target, DOWN)
    assert _state(database, target) == ("running", "unhealthy", 1)
    assert queue.depth().ready == 0
    verdicts.apply(target, DOWN)
    assert _state(database, target) == ("unhealthy", "unhealthy", 2)
    assert queue.depth().ready == 1
    with database.session() as session:
        deployment = session.get(Deployment, target.deployment_id)
        assert deployment is not None and "ConnectError" in (deployment.status_message or "")


def test_a_pass_resets_the_count_and_recovers_the_deployment(database: Database) -> None:
    verdicts, _, target = _setup(database)
    verdicts.apply(target, DOWN)
    verdicts.apply(target, UP)
    assert _state(database, target) == ("running", "healthy", 0)
    verdicts.apply(target, DOWN)
    verdicts.apply(target, DOWN)
    verdicts.apply(target, UP)
    assert _state(database, target) == ("running", "healthy", 0)
    with database.session() as session:
        reasons = session.scalars(select(DeploymentEvent.reason).where(
            DeploymentEvent.deployment_id == target.deployment_id)).all()
    assert "recovered before healing" in reasons


def test_degraded_is_recorded_once_and_not_healed(database: Database) -> None:
    verdicts, queue, target = _setup(database)
    spilled = ProbeResult(Health.DEGRADED, 3.0, "only 75% in GPU memory")
    verdicts.apply(target, spilled)
    verdicts.apply(target, spilled)
    assert _state(database, target) == ("running", "degraded", 0)
    with database.session() as session:
        events = session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.deployment_id == target.deployment_id)).all()
    assert [e.reason for e in events] == ["instance degraded"]
    assert queue.depth().ready == 0


def test_a_deployment_the_agent_holds_is_left_alone(database: Database) -> None:
    verdicts, queue, target = _setup(database)
    with database.session() as session:
        row = session.get(Deployment, target.deployment_id)
        assert row is not None
        row.lease_token = "agent"
        row.lease_expires_at = utcnow() + timedelta(minutes=5)
    for _ in range(3):
        verdicts.apply(target, DOWN)
    assert _state(database, target) == ("running", "unhealthy", 3)
    assert queue.depth().ready == 0


def test_heal_backoff_doubles_and_is_capped() -> None:
    policy = HealPolicy(heal_backoff_s=30, heal_backoff_max_s=100)
    assert [policy.backoff_s(n) for n in range(4)] == [30, 60, 100, 100]


def test_a_round_of_results_is_written_in_batches_as_if_one_by_one(database: Database,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    """``apply_all`` spans several transactions; a deployment's instances see each other."""
    monkeypatch.setattr("flowllama.monitor.verdicts.WRITE_BATCH", 2)
    deployment_id, instance_ids = serving_deployment(database, "http://127.0.0.1:1/v1",
                                                     instances=3)
    queue = DatabaseQueue(database)
    verdicts = Verdicts(database, queue, HealPolicy(failures_before_unhealthy=2,
                                                    heal_backoff_s=0))
    targets = [Target(instance_id=i, deployment_id=deployment_id, model="local/tiny",
                      runtime="llamacpp", server_url="http://127.0.0.1:1",
                      health_path="/v1/models", expects_gpu=False) for i in instance_ids]
    first, second, third = targets
    verdicts.apply_all([(first, DOWN), (second, UP), (first, DOWN), (third, UP)])
    # The second failure of ``first`` (in the second batch) made the deployment unhealthy and
    # asked for one heal; ``third`` then passed and brought it back, as sequential writes would.
    with database.session() as session:
        deployment = session.get(Deployment, deployment_id)
        rows = {i: session.get(Instance, i) for i in instance_ids}
        reasons = session.scalars(select(DeploymentEvent.reason).where(
            DeploymentEvent.deployment_id == deployment_id)).all()
    assert deployment is not None and deployment.status == "running"
    assert [(r.status, r.consecutive_failures) for r in rows.values() if r is not None] == [
        ("unhealthy", 2), ("healthy", 0), ("healthy", 0)]
    assert reasons == ["2 consecutive failed health checks", "recovered before healing"]
    assert queue.depth().ready == 1


def test_a_local_runtime_that_refuses_connections_is_unhealthy_at_once(
        database: Database) -> None:
    verdicts, queue, target = _setup(database)  # failures_before_unhealthy=2, cloud local
    refused = ProbeResult(Health.UNHEALTHY, 0.3, "health check failed: connection refused",
                          refused=True)
    verdicts.apply(target, refused)
    assert _state(database, target) == ("unhealthy", "unhealthy", 1)
    assert queue.depth().ready == 1
