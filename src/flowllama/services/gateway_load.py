"""Reading what the gateways report about load (``gateway_load``, written by
:mod:`flowllama.gateway.load_report`): requests in flight on an instance (drains), a
deployment's load (scaling) and its last request (idle sleep).

Each gateway process writes its own row per instance every ``report_interval_s``; a row not
updated for :data:`STALE_INTERVALS` intervals is a gone (or stopped) gateway's and counts as
nothing in flight and no recent requests. ``last_request_at`` is read from every row, stale
or not: a gateway restart must not make a deployment look idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowllama.db.autopilot_tables import GatewayLoad
from flowllama.db.types import utcnow

STALE_INTERVALS = 3
DEFAULT_REPORT_INTERVAL_S = 2.0  # AutopilotSettings.load_report_interval_s's default


@dataclass(frozen=True, slots=True)
class DeploymentLoad:
    """A deployment's load over the fresh reports: requests in flight now, requests per
    second, and the mean time to first token of streams (None when none was measured)."""

    in_flight: int
    requests_per_s: float
    ttft_ms: float | None


def _fresh_since(report_interval_s: float, now: datetime | None) -> datetime:
    return (now or utcnow()) - timedelta(seconds=STALE_INTERVALS * report_interval_s)


def in_flight(session: Session, instance_id: str, *,
              report_interval_s: float = DEFAULT_REPORT_INTERVAL_S,
              now: datetime | None = None) -> int:
    """Requests in flight on ``instance_id`` summed over every gateway's fresh report."""
    total = session.scalar(select(func.coalesce(func.sum(GatewayLoad.in_flight), 0)).where(
        GatewayLoad.instance_id == instance_id,
        GatewayLoad.updated_at >= _fresh_since(report_interval_s, now)))
    return int(total or 0)


def deployment_load(session: Session, deployment_id: str, *,
                    report_interval_s: float = DEFAULT_REPORT_INTERVAL_S,
                    now: datetime | None = None) -> DeploymentLoad:
    """The deployment's load over every gateway's fresh reports (each report's ``requests``
    cover one interval, so their sum over the interval is a rate)."""
    rows = session.execute(select(GatewayLoad.in_flight, GatewayLoad.requests,
                                  GatewayLoad.ttft_ms).where(
        GatewayLoad.deployment_id == deployment_id,
        GatewayLoad.updated_at >= _fresh_since(report_interval_s, now))).all()
    requests = sum(row.requests for row in rows)
    timed = [(row.ttft_ms, row.requests) for row in rows if row.ttft_ms is not None]
    weight = sum(max(1, n) for _, n in timed)
    ttft = sum(ms * max(1, n) for ms, n in timed) / weight if timed else None
    # A report's requests span one interval; gateways report side by side, not in sequence.
    return DeploymentLoad(in_flight=sum(row.in_flight for row in rows),
                          requests_per_s=requests / report_interval_s, ttft_ms=ttft)


def last_request_at(session: Session, deployment_id: str) -> datetime | None:
    """The latest request any gateway sent to any instance of the deployment (None: none
    reported)."""
    return session.scalar(select(func.max(GatewayLoad.last_request_at)).where(
        GatewayLoad.deployment_id == deployment_id))
