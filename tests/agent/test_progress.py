"""Model download progress lands on the deployment: the latest step in the status message,
an event at each quarter only; only while the downloading step holds the deployment's lease,
and a download whose step lost that lease, or whose deployment is no longer wanted, is
stopped at its next progress report."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flowllama.agent import leases
from flowllama.agent.leases import HeldLeases, LeaseLost, StepCancelled
from flowllama.agent.progress import ProgressRecorder
from flowllama.agent.reconciler import Reconciler
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, User
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.runtimes import PullProgress


def _deployment(database: Database) -> str:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="chat", model="llama3.2:1b",
                                context_size=4096, cloud="local", status="provisioning")
        session.add(deployment)
        session.flush()
        return deployment.id


def _holding(database: Database, deployment_id: str) -> ProgressRecorder:
    """A recorder whose process holds the deployment's lease, as the downloading step does."""
    held = HeldLeases()
    token = leases.acquire(database, deployment_id, 30)
    assert token is not None
    held.hold(deployment_id, token)
    return ProgressRecorder(database, held)


def _message(database: Database, deployment_id: str) -> str | None:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status_message


def test_progress_is_recorded_without_flooding_the_timeline(database: Database) -> None:
    deployment_id = _deployment(database)
    recorder = _holding(database, deployment_id)
    recorder(deployment_id, PullProgress("pulling manifest"))
    total = 1_000
    for done in range(0, total + 1, 10):  # 101 progress reports
        recorder(deployment_id, PullProgress("downloading", done / total, done, total))

    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.status == "provisioning"
        assert row.status_message == "downloading (100%)"
        events = session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.deployment_id == deployment_id).order_by(DeploymentEvent.id)).all()
    fractions = [event.data["fraction"] for event in events if event.data]
    assert fractions == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(event.from_status == event.to_status == "provisioning" for event in events)


def test_a_download_for_a_deployment_this_process_does_not_hold_stops(
        database: Database) -> None:
    with pytest.raises(LeaseLost):
        ProgressRecorder(database, HeldLeases())("no-such-deployment",
                                                 PullProgress("downloading", 0.5))


def test_a_download_whose_lease_was_taken_stops_at_its_next_report(
        database: Database) -> None:
    deployment_id = _deployment(database)
    recorder = _holding(database, deployment_id)
    recorder(deployment_id, PullProgress("downloading", 0.1, 1, 10))
    with database.session() as session:  # the lease expires and another agent takes it
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.lease_token, row.status_message = "someone-else", "theirs"
    with pytest.raises(LeaseLost):  # the pull ends here instead of running to its end
        recorder(deployment_id, PullProgress("downloading", 0.9, 9, 10))
    assert _message(database, deployment_id) == "theirs"


def test_a_download_whose_lease_the_heartbeat_found_lost_stops_at_its_next_report(
        database: Database) -> None:
    deployment_id = _deployment(database)
    recorder = _holding(database, deployment_id)
    reconciler = Reconciler(database, ProvisionerRegistry(), lease_s=30, held=recorder.held)
    recorder.held.working_towards(deployment_id, "running")
    recorder(deployment_id, PullProgress("downloading", 0.1, 1, 10))
    with database.session() as session:  # another agent took the lease meanwhile
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.lease_token = "someone-else"
    assert reconciler.renew_held() == [deployment_id]  # the heartbeat
    with pytest.raises(LeaseLost):
        recorder(deployment_id, PullProgress("downloading", 0.2, 2, 10))
    assert _message(database, deployment_id) == "downloading (10%)"


def test_a_download_no_longer_wanted_is_cancelled(database: Database) -> None:
    deployment_id = _deployment(database)
    recorder = _holding(database, deployment_id)
    recorder.held.working_towards(deployment_id, "running")
    recorder(deployment_id, PullProgress("downloading", 0.1, 1, 10))
    recorder.held.cancel(deployment_id)  # the heartbeat saw the deployment being deleted
    with pytest.raises(StepCancelled):
        recorder(deployment_id, PullProgress("downloading", 0.2, 2, 10))
    assert _message(database, deployment_id) == "downloading (10%)"
