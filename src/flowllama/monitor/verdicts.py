"""Writing probe results: the instance's status, and the deployment's when it changes.

* ``failures_before_unhealthy`` consecutive failed checks of a running deployment's instance →
  the deployment becomes ``unhealthy`` and the agent is nudged to heal it (after a backoff that
  doubles with each heal already tried);
* a passing check of an ``unhealthy`` deployment's instance → ``running`` again (it recovered
  before it was healed);
* ``degraded`` (serving, but spilled to CPU) is recorded on the instance with an event, and does
  not trigger healing: a replacement of the same size would spill the same way.

A deployment whose row lease is held is left alone: the agent is acting on it right now. A
draining instance (a blue/green replacement took over) keeps its ``draining`` status: no result
is written to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Status
from flowllama.errors import InvalidInput
from flowllama.logging import get_logger
from flowllama.monitor.probes import Health, ProbeResult, Target
from flowllama.queue.base import JobQueue
from flowllama.queue.nudges import nudge
from flowllama.services.deployment_status import change_status_and_notify, record_event

log = get_logger(__name__)

# Results written per transaction: short enough that other writers of a SQLite database wait
# little for its lock, long enough that a round of thousands needs only a few commits.
WRITE_BATCH = 500
Row = TypeVar("Row", Instance, Deployment)


@dataclass(frozen=True, slots=True)
class HealPolicy:
    """When to call an instance unhealthy and how fast to retry healing."""

    failures_before_unhealthy: int = 3
    heal_backoff_s: float = 30.0
    heal_backoff_max_s: float = 900.0
    # An instance healthy for this long after a heal resets the deployment's heal count.
    heal_reset_s: float = 600.0

    def backoff_s(self, heal_attempts: int) -> float:
        return float(min(self.heal_backoff_max_s,
                         self.heal_backoff_s * 2.0 ** min(heal_attempts, 30)))


class Verdicts:
    """Applies probe results to the database and nudges the agent when healing is due."""

    def __init__(self, db: Database, queue: JobQueue, policy: HealPolicy) -> None:
        self.db = db
        self.queue = queue
        self.policy = policy

    def apply(self, target: Target, result: ProbeResult) -> None:
        """Record one probe result (and nudge the agent if it calls for healing)."""
        self.apply_all([(target, result)])

    def apply_all(self, results: Sequence[tuple[Target, ProbeResult]]) -> None:
        """Record a round's results, in order: ``WRITE_BATCH`` of them per transaction, their
        rows loaded with one query per table, so a round of thousands of checks costs a few
        commits rather than one each. A deployment's several instances see each other's effect,
        as if applied one by one; the heal nudges go out after each commit."""
        for start in range(0, len(results), WRITE_BATCH):
            self._apply_batch(results[start:start + WRITE_BATCH])

    def _apply_batch(self, results: Sequence[tuple[Target, ProbeResult]]) -> None:
        heal: list[Deployment] = []
        with self.db.session() as session:
            instances = _by_id(session, Instance, {t.instance_id for t, _ in results})
            deployments = _by_id(session, Deployment, {t.deployment_id for t, _ in results})
            for target, result in results:
                instance = instances.get(target.instance_id)
                deployment = deployments.get(target.deployment_id)
                if instance is None or deployment is None or instance.terminated_at is not None:
                    continue
                to_heal = self._apply_one(session, deployment, instance, result)
                if to_heal is not None:
                    heal.append(to_heal)
        for deployment in heal:
            self._nudge(deployment)

    def _apply_one(self, session: Session, deployment: Deployment, instance: Instance,
                   result: ProbeResult) -> Deployment | None:
        """Write one result to its rows; the deployment to heal, if any."""
        if instance.draining_since is not None:
            return None  # claimed before the agent began draining it: its verdict is moot
        became_degraded = (result.health is Health.DEGRADED
                           and instance.status != Health.DEGRADED)
        _update_instance(instance, result)
        if became_degraded:
            record_event(session, deployment, "instance degraded", {"error": result.error})
        if _leased(deployment):
            return None
        return self._follow(session, deployment, instance, result)

    def _follow(self, session: Session, deployment: Deployment, instance: Instance,
                result: ProbeResult) -> Deployment | None:
        """Move the deployment if the instance's health says so; the row to heal, if any."""
        status = Status(deployment.status)
        # On this machine a refused connection means the runtime process is gone: no point in
        # waiting for more intervals before healing.
        gone = result.refused and deployment.cloud == "local"
        failing = gone or instance.consecutive_failures >= self.policy.failures_before_unhealthy
        if status is Status.RUNNING and result.health is Health.UNHEALTHY and failing:
            change_status_and_notify(
                session, deployment, Status.UNHEALTHY,
                f"{instance.consecutive_failures} consecutive failed health checks",
                message=result.error,
                # The timeline keeps why: the status message is cleared once it serves again.
                data={"instance_id": instance.id, "error": result.error})
            return deployment
        if status is Status.UNHEALTHY and result.health is not Health.UNHEALTHY:
            change_status_and_notify(session, deployment, Status.RUNNING,
                                     "recovered before healing",
                                     data={"instance_id": instance.id})
        elif result.health is Health.HEALTHY and deployment.heal_attempts:
            served_for = (utcnow() - instance.created_at).total_seconds()
            if served_for > self.policy.heal_reset_s:
                deployment.heal_attempts = 0
        return None

    def _nudge(self, deployment: Deployment) -> None:
        delay = self.policy.backoff_s(deployment.heal_attempts)
        try:
            nudge(self.queue, deployment, delay_s=delay)
        except InvalidInput:  # SQS cannot delay one message: heal now
            nudge(self.queue, deployment)
        log.warning("monitor.unhealthy", deployment_id=deployment.id, heal_in_s=delay)


def _update_instance(instance: Instance, result: ProbeResult) -> None:
    instance.status = result.health.value
    instance.last_latency_ms = result.latency_ms
    instance.last_error = result.error
    if result.health is Health.UNHEALTHY:
        instance.consecutive_failures += 1
    else:
        instance.consecutive_failures = 0


def _leased(deployment: Deployment) -> bool:
    expires = deployment.lease_expires_at
    return deployment.lease_token is not None and expires is not None and expires > utcnow()


def _by_id(session: Session, table: type[Row], ids: set[str]) -> dict[str, Row]:
    """The rows of ``table`` with these ids, loaded in one query."""
    rows = session.scalars(select(table).where(table.id.in_(ids))).all()
    return {row.id: row for row in rows}
