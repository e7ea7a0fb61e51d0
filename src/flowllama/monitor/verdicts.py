"""Writing probe results: the instance's status, and the deployment's when it changes.

* ``failures_before_unhealthy`` consecutive failed checks of a running deployment's instance →
  the deployment becomes ``unhealthy`` and the agent is nudged to heal it (after a backoff that
  doubles with each heal already tried);
* a passing check of an ``unhealthy`` deployment's instance → ``running`` again (it recovered
  before it was healed);
* ``degraded`` (serving, but spilled to CPU) is recorded on the instance with an event, and does
  not trigger healing: a replacement of the same size would spill the same way.

A deployment whose row lease is held is left alone: the agent is acting on it right now.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from flowllama.agent.lifecycle import Status, record, transition
from flowllama.agent.nudges import nudge
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance
from flowllama.db.types import utcnow
from flowllama.errors import InvalidInput
from flowllama.logging import get_logger
from flowllama.monitor.probes import Health, ProbeResult, Target
from flowllama.queue.base import JobQueue

log = get_logger(__name__)


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
        heal: Deployment | None = None
        with self.db.session() as session:
            instance = session.get(Instance, target.instance_id)
            deployment = session.get(Deployment, target.deployment_id)
            if instance is None or deployment is None or instance.terminated_at is not None:
                return
            became_degraded = (result.health is Health.DEGRADED
                               and instance.status != Health.DEGRADED)
            _update_instance(instance, result)
            if became_degraded:
                record(session, deployment, "instance degraded", {"error": result.error})
            if not _leased(deployment):
                heal = self._follow(session, deployment, instance, result)
        if heal is not None:
            self._nudge(heal)

    def _follow(self, session: Session, deployment: Deployment, instance: Instance,
                result: ProbeResult) -> Deployment | None:
        """Move the deployment if the instance's health says so; the row to heal, if any."""
        status = Status(deployment.status)
        failing = instance.consecutive_failures >= self.policy.failures_before_unhealthy
        if status is Status.RUNNING and result.health is Health.UNHEALTHY and failing:
            transition(session, deployment, Status.UNHEALTHY,
                       f"{instance.consecutive_failures} consecutive failed health checks",
                       message=result.error, data={"instance_id": instance.id})
            return deployment
        if status is Status.UNHEALTHY and result.health is not Health.UNHEALTHY:
            transition(session, deployment, Status.RUNNING, "recovered before healing",
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
