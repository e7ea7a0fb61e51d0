"""Idle sleep: a running deployment with an ``idle_timeout_s`` that no request reached for that
long is sent to sleep (``docs/autopilot.md``, "Sleep when idle, wake on request").

"No request" is read from the gateways' load reports (:mod:`flowllama.services.gateway_load`):
the latest ``last_request_at`` of any gateway, or — when no gateway reported one since — the
moment the deployment last became running (created, started or woken). A request in flight
keeps it awake whatever its age. Sending it to sleep is one conditional update (desired
running → sleeping, only while it still runs), so two controllers never both act; the event
names the idle time, and the agent, nudged after commit, tears the server down to ``sleeping``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from flowllama.autopilot.controller import Task
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import FlowLlamaError
from flowllama.logging import get_logger
from flowllama.platform import Platform
from flowllama.queue.base import JobQueue
from flowllama.queue.nudges import nudge
from flowllama.services import gateway_load
from flowllama.services.deployment_status import record_event

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class IdleSleep:
    """The idle-sleep task's inputs: where to read and write, and its settings."""

    db: Database
    queue: JobQueue
    min_idle_timeout_s: float = 60.0
    report_interval_s: float = gateway_load.DEFAULT_REPORT_INTERVAL_S

    def run(self, now: datetime | None = None) -> int:
        """One round: sends every idle deployment to sleep; returns how many."""
        now = now or utcnow()
        with self.db.session() as session:
            candidates = session.execute(
                select(Deployment.id, Deployment.idle_timeout_s).where(
                    Deployment.desired_state == Desired.RUNNING,
                    Deployment.status == Status.RUNNING,
                    Deployment.idle_timeout_s.is_not(None),
                    Deployment.deleted_at.is_(None))).all()
        slept = 0
        for row in candidates:
            timeout_s = max(float(row.idle_timeout_s), self.min_idle_timeout_s)
            deployment = self._sleep_if_idle(row.id, timeout_s, now)
            if deployment is not None:
                slept += 1
                self._nudge(deployment)
        return slept

    def _sleep_if_idle(self, deployment_id: str, timeout_s: float, now: datetime
                       ) -> Deployment | None:
        with self.db.session() as session:
            if not self._idle(session, deployment_id, timeout_s, now):
                return None
            changed = session.execute(
                update(Deployment)
                .where(Deployment.id == deployment_id,
                       Deployment.desired_state == Desired.RUNNING,
                       Deployment.status == Status.RUNNING)
                .values(desired_state=Desired.SLEEPING, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            if not changed:  # woken, stopped or changed meanwhile: nothing to do
                return None
            deployment = session.get(Deployment, deployment_id, populate_existing=True)
            assert deployment is not None
            record_event(session, deployment,
                         f"idle for {describe_duration(timeout_s)}: going to sleep",
                         data={"idle_timeout_s": deployment.idle_timeout_s})
        log.info("autopilot.idle_sleep", deployment_id=deployment_id, idle_timeout_s=timeout_s)
        return deployment

    def _idle(self, session: Session, deployment_id: str, timeout_s: float, now: datetime
              ) -> bool:
        if gateway_load.deployment_load(session, deployment_id,
                                        report_interval_s=self.report_interval_s,
                                        now=now).in_flight:
            return False
        active = [at for at in (gateway_load.last_request_at(session, deployment_id),
                                running_since(session, deployment_id)) if at is not None]
        return bool(active) and now - max(active) >= timedelta(seconds=timeout_s)

    def _nudge(self, deployment: Deployment) -> None:
        try:
            nudge(self.queue, deployment)
        except FlowLlamaError as exc:  # saved; the agent's sweep finds it
            log.warning("autopilot.idle_nudge_failed", deployment_id=deployment.id,
                        error=str(exc))


def running_since(session: Session, deployment_id: str) -> datetime | None:
    """When the deployment last moved into ``running`` from another status."""
    return session.scalar(select(func.max(DeploymentEvent.at)).where(
        DeploymentEvent.deployment_id == deployment_id,
        DeploymentEvent.to_status == Status.RUNNING,
        DeploymentEvent.from_status != Status.RUNNING))


def describe_duration(seconds: float) -> str:
    """``45 s``, ``30 min``, ``2 h``: an idle timeout as an event reason says it."""
    if seconds < 120:
        return f"{round(seconds)} s"
    if seconds < 2 * 3600:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600, 1):g} h"


def idle_sleep_task(platform: Platform) -> Task:
    """The idle-sleep :class:`Task` of ``platform``'s autopilot."""
    settings = platform.settings.autopilot
    idle = IdleSleep(platform.db, platform.queue, settings.min_idle_timeout_s,
                     settings.load_report_interval_s)
    return Task("idle_sleep", idle.run)
