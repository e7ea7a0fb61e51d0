"""Writing a deployment's status: the one place a status changes, with both of its effects.

:func:`change_status_and_notify` moves the status (refusing moves the state machine in
:mod:`flowllama.domain.lifecycle` forbids), writes the ``deployment_events`` row and queues the
webhook outbox rows, all in the caller's session, so the three commit or roll back together.
:func:`record_event` writes an event that changes no status (and notifies nobody).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from flowllama.db.tables import Deployment, DeploymentEvent
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Status, check_transition
from flowllama.webhooks import events as webhook_events


def change_status_and_notify(
    session: Session, deployment: Deployment, target: Status, reason: str,
    *, message: str | None = None, data: dict[str, Any] | None = None,
) -> DeploymentEvent:
    """Move ``deployment`` to ``target``, add its event row and its webhook deliveries (the
    outbox) to ``session``; raise ``IllegalTransition`` (writing nothing) for an illegal move."""
    current = Status(deployment.status)
    target = check_transition(current, target, reason)
    deployment.status = target
    deployment.status_message = message
    deployment.updated_at = utcnow()
    event = DeploymentEvent(
        deployment_id=deployment.id, from_status=current, to_status=target, reason=reason,
        data=data,
    )
    session.add(event)
    webhook_events.on_transition(session, deployment, current, target)
    return event


def record_event(session: Session, deployment: Deployment, reason: str,
                 data: dict[str, Any] | None = None) -> DeploymentEvent:
    """An event that changes no status (a choice made, a retry scheduled); no webhook."""
    event = DeploymentEvent(
        deployment_id=deployment.id, from_status=deployment.status,
        to_status=deployment.status, reason=reason, data=data,
    )
    session.add(event)
    return event
