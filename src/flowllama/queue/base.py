"""The job queue's contract, shared by every backend.

Delivery is **at least once**: a handler may see the same job twice (a lease that expired while
it was still working, a crash between the work and the ack), so handlers must be idempotent —
the agent is level-triggered for exactly this reason.

Life of a job: ``enqueue`` → ``lease`` (the job is invisible to other workers until the lease
expires; each delivery counts one attempt) → exactly one of

* ``ack`` — done, never delivered again;
* ``retry(job, error)`` — delivered again after ``backoff_base_s * 2 ** (attempts - 1)`` seconds,
  capped at ``backoff_max_s``; once ``max_attempts`` deliveries have failed the job is
  dead-lettered with ``error`` instead;
* ``dead_letter(job, error)`` — give up now (a permanent failure);
* nothing (the worker died) — once the lease expires the job is delivered again, which counts
  an attempt; a job whose lease expired on its last attempt is dead-lettered.

``ack``, ``retry``, ``dead_letter`` and ``extend`` succeed only with the job's *current* lease;
a worker whose lease was lost gets :class:`LeaseLost` and must not assume its result counted.
Within a user, jobs run one at a time in enqueue order; across users, paid before free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from flowllama.errors import FlowLlamaError

Clock = Callable[[], datetime]
"""Returns the current time, aware UTC; injectable so tests move time without sleeping."""

# Longest error text kept on a job; a full traceback fits, a runaway log does not.
MAX_ERROR_CHARS = 8_000


class LeaseLost(FlowLlamaError):
    """The caller's lease is no longer current (it expired and the job was delivered again,
    or the job was already acked / dead-lettered); the operation was refused."""

    def __init__(self, job_id: str, operation: str, reason: str = "lease is not current") -> None:
        super().__init__(f"{operation} refused for job {job_id}: {reason}")
        self.job_id = job_id
        self.operation = operation
        self.reason = reason


@dataclass(frozen=True, slots=True)
class JobMessage:
    """One delivery of a job to a worker. ``lease_token`` is opaque; hand the message back."""

    id: str
    user_id: str
    kind: str
    payload: dict[str, Any]
    deployment_id: str | None
    priority: int
    attempts: int
    """Deliveries so far, this one included (1 on the first delivery)."""
    max_attempts: int
    lease_token: str
    lease_expires_at: datetime
    dedup_key: str | None = None


@dataclass(frozen=True, slots=True)
class EnqueuedJob:
    """What ``enqueue`` did: ``created`` is False when a pending job with the same dedup key
    was returned instead of a new one."""

    id: str
    created: bool
    status: str


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    """What ``retry`` did: scheduled again at ``run_after``, or dead-lettered."""

    dead_lettered: bool
    run_after: datetime | None


@dataclass(frozen=True, slots=True)
class DeadJob:
    """A dead-lettered job, as an admin sees it."""

    id: str
    user_id: str
    kind: str
    payload: dict[str, Any]
    deployment_id: str | None
    attempts: int
    last_error: str | None
    failed_at: datetime | None
    dedup_key: str | None = None


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Counts for metrics: due or re-deliverable, waiting for a backoff, leased, dead."""

    ready: int
    delayed: int
    in_flight: int
    dead: int
    # How long the oldest ready job has been due (0 when none; backends that cannot tell, SQS,
    # report 0 and leave it to the cloud's own metric, ApproximateAgeOfOldestMessage).
    oldest_ready_age_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff between deliveries, and when to give up."""

    max_attempts: int = 3
    base_s: float = 2.0
    max_s: float = 300.0

    def delay_s(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th delivery failed (1 → ``base_s``)."""
        exponent = max(0, attempts - 1)
        # Cap the exponent too: 2.0 ** 2000 overflows a float long before the cap applies.
        return float(min(self.max_s, self.base_s * 2.0 ** min(exponent, 60)))

    def exhausted(self, attempts: int, max_attempts: int | None = None) -> bool:
        """True when no delivery is left after ``attempts`` of them."""
        return attempts >= (max_attempts if max_attempts is not None else self.max_attempts)


def clip_error(error: str) -> str:
    """The error text as stored: the head and the tail of a very long one."""
    if len(error) <= MAX_ERROR_CHARS:
        return error
    half = MAX_ERROR_CHARS // 2
    return f"{error[:half]}\n…[{len(error) - MAX_ERROR_CHARS} characters cut]…\n{error[-half:]}"


@runtime_checkable
class JobQueue(Protocol):
    """The agent's work queue (see the module docstring for the delivery contract)."""

    def enqueue(
        self,
        user_id: str,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        deployment_id: str | None = None,
        priority: int | None = None,
        dedup_key: str | None = None,
        max_attempts: int | None = None,
        delay_s: float = 0.0,
    ) -> EnqueuedJob:
        """Add a job for ``user_id``. ``priority`` defaults to the user's tier (paid > free).
        With ``dedup_key``, a queued or leased job of the same user and key is returned
        instead of adding a second one; when that job waits (a delay or a retry backoff) past
        the new one's start, its start is brought forward (the database backend; SQS cannot
        move a message in flight). ``delay_s`` holds the first delivery back."""
        ...

    def lease(self, *, lease_s: float | None = None) -> JobMessage | None:
        """The next deliverable job, leased to the caller for ``lease_s``; None when idle."""
        ...

    def extend(self, job: JobMessage, *, lease_s: float | None = None) -> JobMessage:
        """Push the lease's expiry to ``lease_s`` from now (a heartbeat for long jobs)."""
        ...

    def ack(self, job: JobMessage) -> None:
        """The job is done; raises :class:`LeaseLost` when the lease is not current."""
        ...

    def retry(self, job: JobMessage, error: str) -> RetryOutcome:
        """The delivery failed: back off and deliver again, or dead-letter when out of
        attempts. Raises :class:`LeaseLost` when the lease is not current."""
        ...

    def dead_letter(self, job: JobMessage, error: str) -> None:
        """Give up on the job now, keeping ``error``. Raises :class:`LeaseLost` likewise."""
        ...

    def list_dead(self, *, user_id: str | None = None, limit: int = 100) -> list[DeadJob]:
        """Dead-lettered jobs, newest first (for admins)."""
        ...

    def requeue_dead(self, job_id: str) -> EnqueuedJob:
        """Put a dead job back in the queue with a fresh set of attempts; raises
        ``NotFound`` when no dead job has that id."""
        ...

    def depth(self) -> QueueDepth:
        """Current counts, for metrics."""
        ...
