"""The agent's work loop: lease a job, reconcile its deployment, settle the job.

Jobs are nudges, not commands: the deployment row says what to do. So a duplicate delivery
reconciles a row that is already right (a no-op), and a lost nudge is found by :meth:`sweep`,
which re-enqueues every row whose status does not match its desired state.

The job is leased for as long as the row (short; the agent's heartbeat extends both while a
step runs, :meth:`AgentWorker.extend_job`), so the nudge of a killed agent comes back within
one lease period instead of the queue's default.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from flowllama.agent import leases
from flowllama.agent.lease_owner import LeaseOwner, current_owner
from flowllama.agent.reconciler import Outcome, Reconciler
from flowllama.db.outage import is_unavailable
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired, Status, can_transition
from flowllama.errors import InvalidInput, ProviderError, StepAbandoned
from flowllama.logging import get_logger
from flowllama.loops import Beat, LoopHealth, supervise
from flowllama.queue.base import JobMessage, JobQueue, LeaseLost
from flowllama.queue.nudges import RECONCILE, nudge
from flowllama.services.deployment_status import change_status_and_notify

log = get_logger(__name__)

# States the sweep leaves alone. A failed start waits for the user (start again or delete);
# a failed stop or delete is retried, because it may leave a server that costs money.
SETTLED = {
    Desired.RUNNING: {Status.RUNNING, Status.UNHEALTHY, Status.HEALING, Status.FAILED},
    Desired.STOPPED: {Status.STOPPED},
    Desired.DELETED: {Status.DELETED},
    Desired.SLEEPING: {Status.SLEEPING, Status.STOPPED, Status.PENDING, Status.FAILED},
}


class AgentWorker:
    """One worker: call :meth:`run` in a thread; :meth:`stop` lets the current job finish."""

    def __init__(self, db: Database, queue: JobQueue, reconciler: Reconciler, *,
                 poll_s: float = 1.0, wait_s: float = 5.0,
                 job_lease_s: float | None = None) -> None:
        self.db = db
        self.queue = queue
        self.reconciler = reconciler
        self.poll_s = poll_s
        self.wait_s = wait_s
        self.job_lease_s = job_lease_s
        self._stopping = threading.Event()
        self._job: JobMessage | None = None
        self._job_lock = threading.Lock()

    def extend_job(self) -> None:
        """The heartbeat: keep the lease of the job being handled (if any) alive."""
        with self._job_lock:
            job = self._job
            if job is None:
                return
            try:
                self._job = self.queue.extend(job, lease_s=self.job_lease_s)
            except LeaseLost as exc:  # redelivered meanwhile; the row lease still decides
                log.warning("agent.job_lease_lost", job_id=job.id, error=str(exc))

    def _settling(self, job: JobMessage) -> JobMessage:
        """The latest copy of ``job`` (an extension may have renewed its receipt), which the
        heartbeat stops extending: it is about to be acked, retried or dead-lettered."""
        with self._job_lock:
            latest = self._job if self._job is not None and self._job.id == job.id else job
            self._job = None
            return latest

    def stop(self) -> None:
        self._stopping.set()

    def run(self, beat: Beat | None = None) -> None:
        """Take jobs until :meth:`stop`; a failing round (the database went away) is retried
        with backoff, so the worker resumes by itself."""
        beat = beat or LoopHealth().register("agent-worker")
        supervise(beat, self.run_once, self._stopping, idle_s=self.poll_s)

    def run_once(self) -> bool:
        """Handle one job if one is due; ``False`` when the queue had nothing."""
        job = self.queue.lease(lease_s=self.job_lease_s)
        if job is None:
            return False
        with self._job_lock:
            self._job = job
        try:
            self._handle(job)
        except LeaseLost as exc:  # our job lease ran out; its next delivery will redo the work
            log.warning("agent.job_lease_lost", job_id=job.id, error=str(exc))
        finally:
            with self._job_lock:
                self._job = None
        return True

    def _handle(self, job: JobMessage) -> None:
        if job.kind != RECONCILE or job.deployment_id is None:
            self.queue.dead_letter(job, f"unknown job kind {job.kind!r}")
            return
        try:
            outcome = self.reconciler.reconcile(job.deployment_id)
        except StepAbandoned as exc:  # row lease lost: another agent acts on it, write nothing
            log.warning("agent.row_lease_lost", deployment_id=job.deployment_id, error=str(exc))
            self.queue.retry(self._settling(job), str(exc))
            return
        except ProviderError as exc:
            self._failed(self._settling(job), exc, retryable=exc.retryable)
            return
        except Exception as exc:  # a bug must not kill the worker; the job keeps the error
            if is_unavailable(exc):  # not the job's fault: the loop backs off, and the job
                raise                # is delivered again when its lease runs out
            log.exception("agent.unexpected_error", job_id=job.id)
            self._failed(self._settling(job), exc, retryable=True)
            return
        self.queue.ack(self._settling(job))
        if outcome is not Outcome.DONE:
            self._renudge(job.deployment_id)

    def _renudge(self, deployment_id: str, delay_s: float | None = None) -> None:
        with self.db.session() as session:
            deployment = session.get(Deployment, deployment_id)
        if deployment is None:
            return
        try:
            nudge(self.queue, deployment, delay_s=self.wait_s if delay_s is None else delay_s)
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
        mark_failed(self.db, job.deployment_id, error, self.reconciler.lease_s)

    def sweep(self, older_than_s: float = 30.0) -> int:
        """Nudge every row that is not where its owner wants it, or still has a server draining
        (a lost re-nudge must not leave it running), and that no live agent holds (unleased,
        lease expired, or its holder provably gone); returns how many."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        with self.db.session() as session:
            rows = session.scalars(select(Deployment).where(
                Deployment.updated_at < cutoff, Deployment.status != Status.DELETED,
            )).all()
            draining = set(session.scalars(select(Instance.deployment_id).where(
                Instance.draining_since.is_not(None), Instance.terminated_at.is_(None))))
        here = current_owner()
        drifting = [row for row in rows if _unheld(row, here)
                    and (row.id in draining
                         or Status(row.status) not in SETTLED[Desired(row.desired_state)])]
        for row in drifting:
            nudge(self.queue, row)
        return len(drifting)

    def resume(self, deployment_ids: list[str]) -> None:
        """Nudge now the deployments whose dead holder's leases were just freed."""
        for deployment_id in deployment_ids:
            self._renudge(deployment_id, delay_s=0.0)


def _unheld(row: Deployment, here: LeaseOwner) -> bool:
    if row.lease_token is None or row.lease_expires_at is None:
        return True
    if row.lease_expires_at < utcnow():
        return True
    holder = LeaseOwner.parse(row.lease_owner)
    return holder is not None and holder.is_gone(here)


def mark_failed(db: Database, deployment_id: str, reason: str, lease_s: float = 30) -> None:
    """Out of retries: the deployment is ``failed`` with the reason kept for the user (unless
    another agent holds it now: then that agent decides)."""
    token = leases.acquire(db, deployment_id, lease_s)
    if token is None:
        log.info("agent.failed_left_to_holder", deployment_id=deployment_id)
        return
    try:
        with leases.fenced(db, deployment_id, token) as session:
            deployment = session.get(Deployment, deployment_id)
            if deployment is not None and can_transition(deployment.status, Status.FAILED):
                change_status_and_notify(session, deployment, Status.FAILED, "out of retries",
                                         message=reason)
    finally:
        leases.release(db, deployment_id, token)
