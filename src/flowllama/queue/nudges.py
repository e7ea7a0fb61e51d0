"""Nudges: the one kind of job the agent takes. A nudge says "look at this deployment"; the row
itself says what to do, so a nudge delivered twice or lost costs nothing (the sweep finds it)."""

from __future__ import annotations

from flowllama.db.tables import Deployment
from flowllama.queue.base import JobQueue

RECONCILE = "reconcile"


def nudge(queue: JobQueue, deployment: Deployment, *, delay_s: float = 0.0) -> None:
    """Ask the agent to reconcile ``deployment`` (one pending nudge per deployment)."""
    queue.enqueue(deployment.user_id, RECONCILE, deployment_id=deployment.id,
                  dedup_key=f"{RECONCILE}:{deployment.id}", delay_s=delay_s)
