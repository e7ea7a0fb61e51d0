"""What a deployment's answer shows of the cost autopilot (``docs/autopilot.md``): its
replicas, the hours it slept and what that saved, and the advisor's open recommendation.

Read-only; :class:`flowllama.services.deployments.Viewer` adds these to ``DeploymentOut``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.db.autopilot_tables import Recommendation
from flowllama.db.tables import Deployment, Instance
from flowllama.db.types import utcnow
from flowllama.domain.deployments import ReplicasOut
from flowllama.domain.lifecycle import Status
from flowllama.domain.recommendations import RecommendationOut


def running_replicas(deployment: Deployment, rows: list[Instance]) -> int:
    """Healthy, routed servers built for the deployment's current generation."""
    return sum(1 for row in rows
               if row.terminated_at is None and row.draining_since is None
               and row.status == "healthy" and row.generation == deployment.generation)


def asleep_hours(deployment: Deployment) -> float:
    """Hours asleep in all: the finished sleeps plus the current one."""
    seconds = deployment.asleep_seconds or 0.0
    if deployment.status == Status.SLEEPING and deployment.asleep_since is not None:
        seconds += max(0.0, (utcnow() - deployment.asleep_since).total_seconds())
    return seconds / 3600


def saved_usd(hours: float, rows: list[Instance]) -> float:
    """Asleep hours times the $/h the deployment ran at before it slept (its last priced
    server's); a deployment that never ran on a priced server saved nothing."""
    priced = [row for row in rows if row.price_per_hour is not None]
    if not priced:
        return 0.0
    last = max(priced, key=lambda row: row.created_at)
    return round(hours * (last.price_per_hour or 0.0), 6)


def open_recommendation(session: Session, deployment_id: str) -> RecommendationOut | None:
    """The advisor's open recommendation for the deployment (at most one; newest if not)."""
    row = session.scalar(
        select(Recommendation)
        .where(Recommendation.deployment_id == deployment_id, Recommendation.status == "open")
        .order_by(Recommendation.created_at.desc(), Recommendation.id).limit(1))
    return RecommendationOut.model_validate(row) if row is not None else None


def autopilot_fields(session: Session, deployment: Deployment, rows: list[Instance]
                     ) -> dict[str, Any]:
    """The ``DeploymentOut`` fields of the autopilot, from the row and its ``rows``
    (every instance of the deployment, terminated ones included)."""
    hours = asleep_hours(deployment)
    return {
        "generation": deployment.generation,
        "replicas": ReplicasOut(min=deployment.replicas_min, max=deployment.replicas_max,
                                desired=deployment.replicas_desired,
                                running=running_replicas(deployment, rows)),
        "idle_timeout_s": deployment.idle_timeout_s,
        "auto_move": bool(deployment.auto_move),
        "wake_count": deployment.wake_count,
        "asleep_hours": round(hours, 6),
        "saved_usd": saved_usd(hours, rows),
        "rollout_error": deployment.rollout_error,
        "recommendation": open_recommendation(session, deployment.id),
    }
