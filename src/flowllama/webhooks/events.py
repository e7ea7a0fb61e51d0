"""The webhook outbox: a status change becomes one pending delivery per subscribed webhook.

:func:`on_transition` is called by ``services.deployment_status.change_status_and_notify``
inside the transaction that changes the status, so a delivery exists exactly when the change is
committed — never for a change that rolled back, never missing for one that stuck. The
dispatcher sends them later.

Which status change is which event:

* ``running`` → ``deployment.running``, or ``deployment.healed`` when the deployment comes back
  from ``unhealthy`` (directly, or through ``healing`` → ``starting``): a heal sends ``healed``
  *instead of* ``running``;
* ``unhealthy`` → ``deployment.unhealthy``; ``failed`` → ``deployment.failed``;
  ``deleted`` → ``deployment.deleted``; ``sleeping`` → ``deployment.sleeping``.

What is not a status change (a spot reclaim, a recommendation, a budget threshold) is queued
by :func:`notify` in the transaction that records it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.db.tables import Deployment, DeploymentEvent, Webhook, WebhookDelivery
from flowllama.db.types import new_id, utcnow
from flowllama.domain.webhooks import WebhookEvent

# Plain strings: the webhook layer keys on the status values it is handed.
_EVENT_BY_STATUS = {
    "running": WebhookEvent.RUNNING,
    "unhealthy": WebhookEvent.UNHEALTHY,
    "failed": WebhookEvent.FAILED,
    "deleted": WebhookEvent.DELETED,
    "sleeping": WebhookEvent.SLEEPING,
}
_HEAL_PATH = frozenset({"unhealthy", "healing"})


def on_transition(session: Session, deployment: Deployment, previous: str, target: str
                  ) -> list[WebhookDelivery]:
    """Queue a delivery for every webhook of the owner subscribed to this change's event.

    Costs one indexed query per status change when nothing is subscribed (two for a move to
    ``running``). Returns the rows added to ``session`` (not yet flushed).
    """
    event = _EVENT_BY_STATUS.get(str(target))
    if event is None:
        return []
    if event is WebhookEvent.RUNNING and _back_from_heal(session, deployment, str(previous)):
        event = WebhookEvent.HEALED
    return notify(session, deployment.user_id, event,
                  {"deployment": deployment_snapshot(deployment, str(target))})


def notify(session: Session, user_id: str, event: WebhookEvent, body: dict[str, Any]
           ) -> list[WebhookDelivery]:
    """Queue one delivery of ``event`` for every webhook of ``user_id`` subscribed to it, in
    the caller's transaction; the payload is ``{id, event, created_at}`` plus ``body``.

    For what is not a status change (a spot reclaim, a recommendation, a budget threshold):
    the caller writes its own record and this in one commit. Returns the rows added.
    """
    hooks = session.scalars(select(Webhook).where(Webhook.user_id == user_id)).all()
    subscribed = [hook for hook in hooks if event.value in (hook.events or [])]
    rows = []
    for hook in subscribed:
        delivery_id = new_id()
        created_at = utcnow()
        payload = {"id": delivery_id, "event": event.value,
                   "created_at": created_at.isoformat(), **body}
        rows.append(WebhookDelivery(id=delivery_id, webhook_id=hook.id, event=event.value,
                                    payload=payload, status="pending", attempts=0,
                                    next_attempt_at=created_at, created_at=created_at))
    session.add_all(rows)
    return rows


def _back_from_heal(session: Session, deployment: Deployment, previous: str) -> bool:
    """Whether reaching ``running`` now ends a heal: straight from ``unhealthy``, or from a
    ``starting`` that was entered from ``healing``."""
    if previous in _HEAL_PATH:
        return True
    if previous != "starting":
        return False
    entered_from = session.scalar(
        select(DeploymentEvent.from_status).where(
            DeploymentEvent.deployment_id == deployment.id,
            DeploymentEvent.to_status == "starting",
            DeploymentEvent.from_status != "starting")
        .order_by(DeploymentEvent.at.desc(), DeploymentEvent.id.desc()).limit(1))
    return entered_from in _HEAL_PATH


def deployment_snapshot(deployment: Deployment, status: str) -> dict[str, Any]:
    """The ``deployment`` object of a delivery: as it is at the moment of the change. It names
    the ``model`` to send to the token API (``endpoint_model``), never a runtime's address:
    users reach models only through the gateway."""
    return {
        "id": deployment.id, "name": deployment.name, "model": deployment.model,
        "status": status, "status_message": deployment.status_message,
        "endpoint_model": None if status == "deleted" else deployment.name,
    }
