"""Job outcomes for metrics: a queue wrapper that counts what workers do with each job.

Wrapping the queue keeps the count in one place for every backend and leaves the worker
untouched; everything else is passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowllama.metrics.instruments import JOBS
from flowllama.queue.base import (
    DeadJob,
    EnqueuedJob,
    JobMessage,
    JobQueue,
    LeaseLost,
    QueueDepth,
    RetryOutcome,
)


class CountingQueue:
    """A :class:`JobQueue` that counts ``flowllama_jobs_total{kind, outcome}``: ``acked``,
    ``retried``, ``dead_lettered`` (by retry or at once) and ``lease_lost``."""

    def __init__(self, inner: JobQueue) -> None:
        self.inner = inner

    def enqueue(self, user_id: str, kind: str, payload: Mapping[str, Any] | None = None, *,
                deployment_id: str | None = None, priority: int | None = None,
                dedup_key: str | None = None, max_attempts: int | None = None,
                delay_s: float = 0.0) -> EnqueuedJob:
        return self.inner.enqueue(user_id, kind, payload, deployment_id=deployment_id,
                                  priority=priority, dedup_key=dedup_key,
                                  max_attempts=max_attempts, delay_s=delay_s)

    def lease(self, *, lease_s: float | None = None) -> JobMessage | None:
        return self.inner.lease(lease_s=lease_s)

    def extend(self, job: JobMessage, *, lease_s: float | None = None) -> JobMessage:
        return self.inner.extend(job, lease_s=lease_s)

    def ack(self, job: JobMessage) -> None:
        self._counted(job, "acked", self.inner.ack, job)

    def retry(self, job: JobMessage, error: str) -> RetryOutcome:
        outcome: RetryOutcome = self._counted(job, None, self.inner.retry, job, error)
        JOBS.labels(job.kind, "dead_lettered" if outcome.dead_lettered else "retried").inc()
        return outcome

    def dead_letter(self, job: JobMessage, error: str) -> None:
        self._counted(job, "dead_lettered", self.inner.dead_letter, job, error)

    def list_dead(self, *, user_id: str | None = None, limit: int = 100) -> list[DeadJob]:
        return self.inner.list_dead(user_id=user_id, limit=limit)

    def requeue_dead(self, job_id: str) -> EnqueuedJob:
        return self.inner.requeue_dead(job_id)

    def depth(self) -> QueueDepth:
        return self.inner.depth()

    @staticmethod
    def _counted(job: JobMessage, outcome: str | None, call: Any, *args: Any) -> Any:
        try:
            result = call(*args)
        except LeaseLost:
            JOBS.labels(job.kind, "lease_lost").inc()
            raise
        if outcome is not None:
            JOBS.labels(job.kind, outcome).inc()
        return result
