"""The lifecycle allows exactly the documented moves and records an event for each."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flowllama.agent.lifecycle import (
    ALLOWED,
    IllegalTransition,
    Status,
    can_transition,
    record,
    transition,
)
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, User

HAPPY_PATH = [Status.PROVISIONING, Status.STARTING, Status.RUNNING, Status.UNHEALTHY,
              Status.HEALING, Status.STARTING, Status.RUNNING, Status.STOPPING, Status.STOPPED,
              Status.PROVISIONING, Status.DELETING, Status.DELETED]


def test_every_live_state_can_be_deleted_or_failed() -> None:
    for state in Status:
        if state not in (Status.DELETED, Status.DELETING):
            assert can_transition(state, Status.DELETING)
        if state not in (Status.DELETED, Status.FAILED):
            assert can_transition(state, Status.FAILED)
    assert ALLOWED[Status.DELETED] == frozenset()


@pytest.mark.parametrize(("current", "target"), [
    (Status.PENDING, Status.RUNNING), (Status.STOPPED, Status.RUNNING),
    (Status.DELETED, Status.PROVISIONING), (Status.DELETING, Status.RUNNING),
])
def test_illegal_moves(current: Status, target: Status) -> None:
    assert not can_transition(current, target)


def test_transitions_write_events(database: Database) -> None:
    with database.session() as session:
        user = User(email="a@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="d", model="m", context_size=4096)
        session.add(deployment)
        session.flush()
        for target in HAPPY_PATH:
            transition(session, deployment, target, f"to {target}")
        record(session, deployment, "note")
        with pytest.raises(IllegalTransition):
            transition(session, deployment, Status.RUNNING, "from deleted")
    with database.session() as session:
        events = session.scalars(select(DeploymentEvent).order_by(DeploymentEvent.id)).all()
    assert [e.to_status for e in events] == [*HAPPY_PATH, Status.DELETED]
    assert events[0].from_status == Status.PENDING
    assert events[-1].reason == "note"
