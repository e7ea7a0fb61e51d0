"""The agent's work loop: lease a job, reconcile its deployment, settle the job.

Jobs are nudges, not commands: the deployment row says what to do. So a duplicate delivery
reconciles a row that is already right (a no-op), and a lost nudge is found by :meth:`sweep`,
which re-enqueues every row whose status does not match its desired state.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import or_, select

from flowllama.domain.lifecycle import Desired, Status, can_transition
from flowllama.services.deployment_status import change_status_and_notify
from flowllama.agent.nudges import RECONCILE, nudge
from flowllama.agent.reconciler import LeaseLost as RowLeaseLost
from flowllama.agent.reconciler import Outcome, Reconciler
from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.db.types import utcnow
from flowllama.errors import InvalidInput, ProviderError
from flowllama.logging import get_logger
from flowllama.queue.base import JobMessage, JobQueue, LeaseLost

log = get_logger(__name__)

# States the sweep leaves alone. A failed start waits for the user (start again or delete);
# a failed stop or delete is retried, because it may leave a server that costs money.
SETTLED = {
    Desired.RUNNING: {Status.RUNNING, Status.UNHEALTHY, Status.HEALING, Status.FAILED},
    Desired.STOPPED: {Status.STOPPED},
    Desired.DELETED: {Status.DELETED},
}


class AgentWorker:
    """One worker: call :meth:`run` in a thread; :meth:`stop` lets the current job finish."""

    def __init__(self, db: Database, queue: JobQueue, reconciler: Reconciler, *,
                 poll_s: float = 1.0, wait_s: float = 5.0) -> None:
        self.db = db
        self.queue = queue
        self.reconciler = reconciler
        self.poll_s = poll_s
        self.wait_s = wait_s
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            if not self.run_once():
                self._stopping.wait(self.poll_s)

    def run_once(self) -> bool:
        """Handle one job if one is due; ``False`` when the queue had nothing."""
        job = self.queue.lease()
        if job is None:
            return False
        try:
            self._handle(job)
        except LeaseLost as exc:  # our job lease ran out; its next delivery will redo the work
            log.warning("agent.job_lease_lost", job_id=job.id, error=str(exc))
        return True

    def _handle(self, job: JobMessage) -> None:
        if job.kind != RECONCILE or job.deployment_id is None:
            self.queue.dead_letter(job, f"unknown job kind {job.kind!r}")
            return
        try:
            outcome = self.reconciler.reconcile(job.deployment_id)
        except RowLeaseLost as exc:
            self.queue.retry(job, str(exc))
            return
        except ProviderError as exc:
            self._failed(job, exc, retryable=exc.retryable)
            return
        except Exception as exc:  # a bug must not kill the worker; the job keeps the error
            log.exception("agent.unexpected_error", job_id=job.id)
            self._failed(job, exc, retryable=True)
            return
        self.queue.ack(job)
        if outcome is not Outcome.DONE:
            self._renudge(job.deployment_id)

    def _renudge(self, deployment_id: str) -> None:
        with self.db.session() as session:
            deployment = session.get(Deployment, deployment_id)
        if deployment is None:
            return
        try:
            nudge(self.queue, deployment, delay_s=self.wait_s)
        except InvalidInput:  # SQS FIFO queues cannot delay one message: the sweep returns
            log.info("agent.renudge_left_to_sweep", deployment_id=deployment_id)

    def _failed(self, job: JobMessage, exc: Exception, *, retryable: bool) -> None:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("agent.step_failed", job_id=job.id, deployment_id=job.deployment_id,
                    attempt=job.attempts, error=error)
        if retryable and not self.queue.retry(job, error).dead_lettered:
            return
        if not retryable:
            self.queue.dead_letter(job, error)
        assert job.deployment_id is not None
        mark_failed(self.db, job.deployment_id, error)

    def sweep(self, older_than_s: float = 30.0) -> int:
        """Nudge every unleased row that is not where its owner wants it; returns how many."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        with self.db.session() as session:
            rows = session.scalars(select(Deployment).where(
                Deployment.updated_at < cutoff,
                or_(Deployment.lease_token.is_(None), Deployment.lease_expires_at < utcnow()),
                Deployment.status != Status.DELETED,
            )).all()
        drifting = [row for row in rows
                    if Status(row.status) not in SETTLED[Desired(row.desired_state)]]
        for row in drifting:
            nudge(self.queue, row)
        return len(drifting)


def mark_failed(db: Database, deployment_id: str, reason: str) -> None:
    """Out of retries: the deployment is ``failed`` with the reason kept for the user."""
    with db.session() as session:
        deployment = session.get(Deployment, deployment_id)
        if deployment is not None and can_transition(deployment.status, Status.FAILED):
            change_status_and_notify(session, deployment, Status.FAILED, "out of retries", message=reason)
