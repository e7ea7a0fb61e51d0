"""Waking a sleeping deployment (``docs/autopilot.md``, "Sleep when idle, wake on request").

:func:`wake` is the one way out of sleep, for the gateway (a request arrived) and the API (the
owner pressed start). It is one conditional ``UPDATE … WHERE desired_state = 'sleeping'``, so
of any number of concurrent callers, in one process or many, exactly one sees its row change
and gets True; only that caller writes the event and the ``deployment.woken`` webhook. The
caller commits and then nudges the agent, which provisions the deployment again.

The time asleep is kept on the row: the agent notes when the deployment settled in ``sleeping``
(``asleep_since``) and ending a sleep (:func:`end_sleep`) adds it to ``asleep_seconds`` (hours
saved) and clears it, so it is counted once whoever ends it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from flowllama.db.tables import Deployment
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired
from flowllama.domain.webhooks import WebhookEvent
from flowllama.services.deployment_status import record_event
from flowllama.webhooks import events as webhook_events

WOKEN_BY_REQUEST = "woken by a request"
STARTED_BY_USER = "started by its owner"


def wake(session: Session, deployment_id: str, reason: str = WOKEN_BY_REQUEST) -> bool:
    """Move ``deployment_id``'s desired state from sleeping to running, count the wake, add the
    sleep to ``asleep_seconds``, write an event and queue ``deployment.woken`` — all in the
    caller's transaction. True only for the caller whose update changed the row (exactly one
    of any concurrent callers); False when it was not asleep (already woken, stopped, gone)."""
    now = utcnow()
    result = session.execute(
        update(Deployment)
        .where(Deployment.id == deployment_id, Deployment.desired_state == Desired.SLEEPING,
               Deployment.deleted_at.is_(None))
        .values(desired_state=Desired.RUNNING, wake_count=Deployment.wake_count + 1,
                heal_attempts=0, updated_at=now)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    # The update holds the row (PostgreSQL row lock, SQLite write lock) until commit, and
    # every other waker's condition now fails: this read-modify-write cannot race.
    deployment = session.get(Deployment, deployment_id, populate_existing=True)
    assert deployment is not None
    end_sleep(deployment, now)
    record_event(session, deployment, reason, data={"wake_count": deployment.wake_count})
    webhook_events.notify(session, deployment.user_id, WebhookEvent.WOKEN, {
        "deployment": webhook_events.deployment_snapshot(deployment, deployment.status),
        "reason": reason, "wake_count": deployment.wake_count,
    })
    return True


def end_sleep(deployment: Deployment, now: datetime | None = None) -> None:
    """Add the current sleep (if any) to ``asleep_seconds`` and clear ``asleep_since``."""
    if deployment.asleep_since is None:
        return
    now = now or utcnow()
    deployment.asleep_seconds = (deployment.asleep_seconds or 0.0) + max(
        0.0, (now - deployment.asleep_since).total_seconds())
    deployment.asleep_since = None
