"""The one status writer: legal moves only, an event for each, webhooks queued with it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, User
from flowllama.domain.lifecycle import IllegalTransition, Status
from flowllama.services.deployment_status import change_status_and_notify, record_event

HAPPY_PATH = [Status.PROVISIONING, Status.STARTING, Status.RUNNING, Status.UNHEALTHY,
              Status.HEALING, Status.STARTING, Status.RUNNING, Status.STOPPING, Status.STOPPED,
              Status.PROVISIONING, Status.DELETING, Status.DELETED]


def test_transitions_write_events(database: Database) -> None:
    with database.session() as session:
        user = User(email="a@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="d", model="m", context_size=4096)
        session.add(deployment)
        session.flush()
        for target in HAPPY_PATH:
            change_status_and_notify(session, deployment, target, f"to {target}")
        record_event(session, deployment, "note")
        with pytest.raises(IllegalTransition):
            change_status_and_notify(session, deployment, Status.RUNNING, "from deleted")
    with database.session() as session:
        events = session.scalars(select(DeploymentEvent).order_by(DeploymentEvent.id)).all()
    assert [e.to_status for e in events] == [*HAPPY_PATH, Status.DELETED]
    assert events[0].from_status == Status.PENDING
    assert events[-1].reason == "note"
