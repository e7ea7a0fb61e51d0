"""Deployment states, the legal moves between them, and the event written for each move.

Desired state is what the user asked for; status is what is true. Every change of status goes
through :func:`transition`, which refuses illegal moves and records an event, so the timeline
a user sees is complete by construction.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from flowllama.db.tables import Deployment, DeploymentEvent
from flowllama.db.types import utcnow
from flowllama.webhooks import events as webhook_events


class Status(StrEnum):
    PENDING = "pending"
    PROVISIONING = "provisioning"
    STARTING = "starting"
    RUNNING = "running"
    UNHEALTHY = "unhealthy"
    HEALING = "healing"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DELETING = "deleting"
    DELETED = "deleted"
    FAILED = "failed"


class Desired(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    DELETED = "deleted"


_S = Status
ALLOWED: dict[Status, frozenset[Status]] = {
    _S.PENDING: frozenset({_S.PROVISIONING, _S.STOPPED}),
    _S.PROVISIONING: frozenset({_S.STARTING, _S.STOPPING}),
    _S.STARTING: frozenset({_S.RUNNING, _S.UNHEALTHY, _S.STOPPING}),
    _S.RUNNING: frozenset({_S.UNHEALTHY, _S.STOPPING, _S.STARTING}),
    _S.UNHEALTHY: frozenset({_S.RUNNING, _S.HEALING, _S.STOPPING}),
    _S.HEALING: frozenset({_S.STARTING, _S.STOPPING}),
    _S.STOPPING: frozenset({_S.STOPPED}),
    _S.STOPPED: frozenset({_S.PROVISIONING}),
    _S.FAILED: frozenset({_S.PROVISIONING, _S.STOPPING, _S.STOPPED}),
    _S.DELETING: frozenset({_S.DELETED}),
    _S.DELETED: frozenset(),
}
# Any live state may start deleting, and any step that runs out of retries fails.
for _state in set(Status) - {_S.DELETED, _S.DELETING}:
    ALLOWED[_state] = ALLOWED[_state] | {_S.DELETING}
for _state in set(Status) - {_S.DELETED, _S.FAILED}:
    ALLOWED[_state] = ALLOWED[_state] | {_S.FAILED}

TERMINAL = frozenset({Status.DELETED})
ACTIVE = frozenset({Status.RUNNING, Status.UNHEALTHY})


class IllegalTransition(Exception):
    """A move the lifecycle does not allow; a bug or a stale actor, never user input."""


def can_transition(current: str, target: str) -> bool:
    return Status(target) in ALLOWED[Status(current)]


def transition(
    session: Session, deployment: Deployment, target: Status, reason: str,
    *, message: str | None = None, data: dict[str, Any] | None = None,
) -> DeploymentEvent:
    """Move ``deployment`` to ``target`` and record the event; refuse illegal moves."""
    current = Status(deployment.status)
    if target not in ALLOWED[current]:
        raise IllegalTransition(f"{current} → {target} is not allowed ({reason})")
    deployment.status = target
    deployment.status_message = message
    deployment.updated_at = utcnow()
    event = DeploymentEvent(
        deployment_id=deployment.id, from_status=current, to_status=target, reason=reason,
        data=data,
    )
    session.add(event)
    # The outbox: webhook deliveries commit (or roll back) with the change itself.
    webhook_events.on_transition(session, deployment, current, target)
    return event


def record(session: Session, deployment: Deployment, reason: str,
           data: dict[str, Any] | None = None) -> DeploymentEvent:
    """An event that changes no status (a choice made, a retry scheduled)."""
    event = DeploymentEvent(
        deployment_id=deployment.id, from_status=deployment.status,
        to_status=deployment.status, reason=reason, data=data,
    )
    session.add(event)
    return event
