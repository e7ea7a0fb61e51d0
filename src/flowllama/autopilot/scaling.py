"""Load-based replicas (``docs/autopilot.md``, "Change and scale"): an autopilot task that moves
``replicas_desired`` of a running deployment between its ``replicas_min`` and ``replicas_max``.

Load is what the gateways report (``gateway_load`` rows, fresh ones only: a row older than three
report intervals is a gateway that stopped, and counts nothing). One step per round:

* up (+1, at most ``max``) when the requests in flight per slot (``replicas_desired`` times
  ``parallel``) are above ``autopilot.scale_up_queue_per_slot``, or the mean time to first
  token is above ``autopilot.scale_up_ttft_ms`` when that is set;
* down (-1, at least ``min``) when fewer than half a slot per replica has been in flight for
  ``autopilot.scale_down_after_s`` on end.

While the servers have not caught up with the desired count (fewer healthy ones of the current
generation), nothing moves: the last step has not landed, and the load it was meant to carry is
still queued on the old servers. The write is a conditional update of the count it read, so two
controllers never step twice for one observation; the event, the ``deployment.scaled`` webhook
and the agent's nudge follow it. How long load has been low is kept in this process: a restarted
monitor starts the wait again, which only delays a scale-down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from flowllama.db.autopilot_tables import GatewayLoad
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import FlowLlamaError
from flowllama.logging import get_logger
from flowllama.queue.base import JobQueue
from flowllama.queue.nudges import nudge
from flowllama.services.deployment_status import record_event
from flowllama.settings import AutopilotSettings

log = get_logger(__name__)

TIMES = "\N{MULTIPLICATION SIGN}"  # events read "2 replicas times 4 slots" with the sign

STALE_REPORTS = 3
"""A load row older than this many report intervals is from a gateway that is gone."""


@dataclass(frozen=True, slots=True)
class Load:
    """What the gateways saw of one deployment lately."""

    in_flight: int
    ttft_ms: float | None


@dataclass(frozen=True, slots=True)
class Step:
    """A decided change of ``replicas_desired``, with the reason its event shows."""

    to: int
    reason: str


def read_load(session: Session, deployment_id: str, since: datetime) -> Load:
    """Requests in flight now and the mean time to first token (weighted by requests) over
    the deployment's load rows written at or after ``since``."""
    rows = session.execute(
        select(GatewayLoad.in_flight, GatewayLoad.requests, GatewayLoad.ttft_ms)
        .where(GatewayLoad.deployment_id == deployment_id, GatewayLoad.updated_at >= since)
    ).all()
    timed = [(requests, ttft) for _, requests, ttft in rows if requests and ttft is not None]
    weight = sum(requests for requests, _ in timed)
    ttft = sum(requests * ttft for requests, ttft in timed) / weight if weight else None
    return Load(in_flight=sum(max(0, in_flight) for in_flight, _, _ in rows), ttft_ms=ttft)


def running_servers(session: Session, deployment: Deployment) -> int:
    """Healthy, routed servers of the deployment's current generation."""
    return session.scalar(
        select(func.count()).select_from(Instance).where(
            Instance.deployment_id == deployment.id, Instance.terminated_at.is_(None),
            Instance.draining_since.is_(None), Instance.status == "healthy",
            Instance.generation == deployment.generation)) or 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class LoadScaler:
    """The ``scaling`` task: ``run()`` steps each scalable running deployment at most once."""

    def __init__(self, db: Database, queue: JobQueue, settings: AutopilotSettings,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.queue = queue
        self.settings = settings
        self.clock = clock
        # (deployment id, desired count) → when its load went low; a new count starts over.
        self._low_since: dict[tuple[str, int], datetime] = {}

    def run(self) -> int:
        """One round; returns how many deployments were scaled."""
        with self.db.session() as session:
            ids = list(session.scalars(
                select(Deployment.id).where(
                    Deployment.deleted_at.is_(None), Deployment.status == Status.RUNNING,
                    Deployment.desired_state == Desired.RUNNING,
                    Deployment.replicas_max > Deployment.replicas_min)).all())
        self._forget_except(set(ids))
        return sum(1 for deployment_id in ids if self.scale(deployment_id))

    def scale(self, deployment_id: str) -> bool:
        """Decide and apply one step for the deployment; True when this call scaled it."""
        with self.db.session() as session:
            deployment = session.get(Deployment, deployment_id)
            if deployment is None or deployment.status != Status.RUNNING:
                return False
            step = self.decide(session, deployment)
            if step is None or not self._apply(session, deployment, step):
                return False
        try:
            nudge(self.queue, deployment)
        except FlowLlamaError as exc:  # the count is saved; the agent's sweep finds it
            log.warning("autopilot.scale_nudge_failed", deployment_id=deployment_id,
                        error=str(exc))
        log.info("autopilot.scaled", deployment_id=deployment_id, replicas=step.to,
                 reason=step.reason)
        return True

    def decide(self, session: Session, deployment: Deployment) -> Step | None:
        """The step the deployment's load calls for now, if any (see the module's rules)."""
        low, high = deployment.replicas_min, deployment.replicas_max
        desired = deployment.replicas_desired
        if not low <= desired <= high:  # written outside the owner's PATCH: bring it back
            to = min(max(desired, low), high)
            return Step(to, f"replicas {desired} outside {low}..{high}")
        if running_servers(session, deployment) < desired:
            return None  # the last step has not landed yet
        now = self.clock()
        since = now - timedelta(seconds=STALE_REPORTS * self.settings.load_report_interval_s)
        load = read_load(session, deployment.id, since)
        up = self._up_reason(deployment, load) if desired < high else None
        if up is not None:
            return Step(desired + 1, up)
        return self._down(deployment, load, now) if desired > low else None

    def _up_reason(self, deployment: Deployment, load: Load) -> str | None:
        replicas, parallel = deployment.replicas_desired, max(1, deployment.parallel)
        if load.in_flight / (replicas * parallel) > self.settings.scale_up_queue_per_slot:
            return (f"{_plural(load.in_flight, 'request')} waiting on "
                    f"{_plural(replicas, 'replica')} {TIMES} {_plural(parallel, 'slot')}")
        limit = self.settings.scale_up_ttft_ms
        if limit is not None and load.ttft_ms is not None and load.ttft_ms > limit:
            return f"time to first token {load.ttft_ms:.0f} ms above {limit:.0f} ms"
        return None

    def _down(self, deployment: Deployment, load: Load, now: datetime) -> Step | None:
        key = (deployment.id, deployment.replicas_desired)
        if load.in_flight >= deployment.replicas_desired * 0.5:
            self._low_since.pop(key, None)
            return None
        since = self._low_since.setdefault(key, now)
        quiet_s = (now - since).total_seconds()
        if quiet_s < self.settings.scale_down_after_s:
            return None
        return Step(deployment.replicas_desired - 1,
                    f"{_plural(load.in_flight, 'request')} in flight on "
                    f"{_plural(deployment.replicas_desired, 'replica')} for {quiet_s:.0f} s")

    def _apply(self, session: Session, deployment: Deployment, step: Step) -> bool:
        """Write the step if the count is still what was read; event and webhook with it."""
        before = deployment.replicas_desired
        result = session.execute(
            update(Deployment)
            .where(Deployment.id == deployment.id, Deployment.replicas_desired == before,
                   Deployment.status == Status.RUNNING,
                   Deployment.desired_state == Desired.RUNNING)
            .values(replicas_desired=step.to, updated_at=utcnow())
            .execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) != 1:
            return False  # another controller or the owner changed it first
        session.refresh(deployment)
        self._low_since.pop((deployment.id, before), None)
        direction = "up" if step.to > before else "down"
        reason = f"scaled {direction} to {_plural(step.to, 'replica')}: {step.reason}"
        replicas = {"from": before, "to": step.to, "min": deployment.replicas_min,
                    "max": deployment.replicas_max}
        # The event says why; the agent sends ``deployment.scaled`` when a server actually
        # joins or leaves (for this step, an owner's change of replicas, alike).
        record_event(session, deployment, reason, {"replicas": replicas})
        return True

    def _forget_except(self, live: set[str]) -> None:
        for key in [key for key in self._low_since if key[0] not in live]:
            del self._low_since[key]
