"""Waking a sleeping deployment: exactly one of many concurrent wakes (threads with their own
sessions, on SQLite and PostgreSQL) changes the row and reports True; the wake counts, adds the
sleep to the hours asleep, writes one event and one ``deployment.woken`` delivery; a deployment
that is not asleep is not woken; the owner's start wakes a sleeping deployment."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, User, Webhook, WebhookDelivery
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired, Status
from flowllama.services import deployments, wake


def _asleep(db: Database, *, desired: str = Desired.SLEEPING, hook: bool = True) -> str:
    with db.session() as session:
        user = User(email="ada@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="bot", model="local/tiny",
                                context_size=512, cloud="local", status=Status.SLEEPING,
                                desired_state=desired, idle_timeout_s=60,
                                asleep_since=utcnow() - timedelta(hours=2), asleep_seconds=60.0)
        session.add(deployment)
        if hook:
            session.add(Webhook(user_id=user.id, url="https://example.com/hook",
                                events=["deployment.woken"], secret="x"))
        session.flush()
        return deployment.id


def test_concurrent_wakes_wake_exactly_once(database: Database) -> None:
    deployment_id = _asleep(database)
    results: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def wake_once() -> None:
        try:
            start.wait(10)
            with database.session() as session:
                results.append(wake.wake(session, deployment_id))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=wake_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(results) == [False] * 7 + [True]
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        assert (row.desired_state, row.wake_count, row.asleep_since) == (
            Desired.RUNNING, 1, None)
        assert 2 * 3600 + 60 <= row.asleep_seconds < 2 * 3600 + 120
        assert session.scalar(select(func.count()).select_from(DeploymentEvent).where(
            DeploymentEvent.reason == wake.WOKEN_BY_REQUEST)) == 1
        (delivery,) = session.scalars(select(WebhookDelivery)).all()
        assert delivery.event == "deployment.woken"
        assert delivery.payload["deployment"]["id"] == deployment_id
        assert delivery.payload["wake_count"] == 1


def test_only_a_sleeping_deployment_is_woken(database: Database) -> None:
    deployment_id = _asleep(database, desired=Desired.STOPPED, hook=False)
    with database.session() as session:
        assert wake.wake(session, deployment_id) is False
        assert wake.wake(session, "no-such-deployment") is False
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.wake_count == 0


def test_start_wakes_and_stop_ends_the_sleep(database: Database) -> None:
    deployment_id = _asleep(database, hook=False)
    with database.session() as session:
        user = session.scalars(select(User)).one()
        started = deployments.request_action(session, user, deployment_id, "start")
        assert (started.desired_state, started.wake_count) == (Desired.RUNNING, 1)
        reasons = session.scalars(select(DeploymentEvent.reason)).all()
        assert reasons == [wake.STARTED_BY_USER]
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.desired_state, row.asleep_since = Desired.SLEEPING, utcnow()
    with database.session() as session:
        user = session.scalars(select(User)).one()
        stopped = deployments.request_action(session, user, deployment_id, "stop")
        assert (stopped.desired_state, stopped.asleep_since, stopped.wake_count) == (
            Desired.STOPPED, None, 1)
