"""The default queue backend: the ``jobs`` table of the platform's database (SQLite or PostgreSQL).

Ordering: strictly one job in flight per user, in enqueue order; among users' head jobs, higher
priority (paid) first, then older first — the rules live in ``selection.py``.

Concurrency: on SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (see
``db/session.py``), so a lease is one writer at a time and its check-then-claim cannot race. On
PostgreSQL, ``FOR UPDATE SKIP LOCKED`` keeps workers off each other's rows, but two workers could
still each claim a different job of one user from snapshots taken before the other committed. So
a lease first takes a per-user transaction advisory lock (``pg_try_advisory_xact_lock``; busy
users are skipped, never waited on) and then re-checks the head rule in a fresh snapshot; the
lock is released at commit, after the claim is visible. Enqueue takes a second per-user lock so
that its dedup check and per-user ordering stamp are atomic too.

The missing ``dedup_key`` column is worked around by keeping the key inside ``payload`` under
:data:`DEDUP_FIELD` (hidden from handlers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import Job
from flowllama.db.types import new_id, utcnow
from flowllama.errors import Conflict, InvalidInput, NotFound
from flowllama.logging import get_logger
from flowllama.queue.base import (
    Clock,
    DeadJob,
    EnqueuedJob,
    JobMessage,
    LeaseLost,
    QueueDepth,
    RetryOutcome,
    RetryPolicy,
    clip_error,
)
from flowllama.queue.priority import user_priority
from flowllama.queue.selection import (
    DEAD,
    DONE,
    LEASED,
    PENDING,
    QUEUED,
    claim,
    head_candidates,
    is_available,
    is_live_lease,
)

DEDUP_FIELD = "__flowllama_dedup_key"
"""Payload key holding the dedup key until ``jobs`` gets its own column."""

# Advisory-lock namespaces (first int4 of the two-key form): "FLQ" + 1 / 2.
ENQUEUE_LOCK_SPACE = 0x464C5101
LEASE_LOCK_SPACE = 0x464C5102

_ONE_TICK = timedelta(microseconds=1)
_log = get_logger(__name__)


def user_lock_key(user_id: str) -> int:
    """A stable signed 32-bit key for ``user_id`` (collisions only serialise two users)."""
    digest = hashlib.blake2b(user_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class DatabaseQueue:
    """:class:`~flowllama.queue.base.JobQueue` on the ``jobs`` table."""

    def __init__(
        self,
        database: Database,
        *,
        policy: RetryPolicy | None = None,
        lease_s: float = 300.0,
        clock: Clock = utcnow,
        candidates: int = 8,
    ) -> None:
        self._db = database
        self._policy = policy or RetryPolicy()
        self._lease_s = lease_s
        self._clock = clock
        # How many head jobs one lease considers before giving up on this round.
        self._candidates = candidates
        self._postgres = database.dialect == "postgresql"

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
        """Add a job (see ``JobQueue.enqueue``); dedup and ordering are atomic per user."""
        stored = _stored_payload(payload, dedup_key)
        now = self._clock()
        with self._db.session() as session:
            self._lock_user(session, ENQUEUE_LOCK_SPACE, user_id, wait=True)
            if priority is None:
                priority = user_priority(session, user_id)
            run_after = now + timedelta(seconds=max(0.0, delay_s))
            if dedup_key is not None:
                existing = _pending_duplicate(session, user_id, dedup_key)
                if existing is not None:
                    _bring_forward(session, existing[0], run_after)
                    return EnqueuedJob(id=existing[0], created=False, status=existing[1])
            job = Job(
                id=new_id(), user_id=user_id, deployment_id=deployment_id, kind=kind,
                payload=stored, priority=priority, status=QUEUED, attempts=0,
                max_attempts=max_attempts or self._policy.max_attempts,
                run_after=run_after,
                created_at=_next_stamp(session, user_id, now), updated_at=now,
            )
            session.add(job)
        return EnqueuedJob(id=job.id, created=True, status=QUEUED)

    def lease(self, *, lease_s: float | None = None) -> JobMessage | None:
        """Lease the first head job in delivery order, or return None (see module doc)."""
        now = self._clock()
        expires = now + timedelta(seconds=self._lease_s if lease_s is None else lease_s)
        with self._db.session() as session:
            # Burying a dead head promotes that user's next job: look once more for it.
            for _ in range(3):
                job, buried = self._claim_head(session, now, expires)
                if job is not None or not buried:
                    return job
        return None

    def _claim_head(self, session: Session, now: datetime, expires: datetime
                    ) -> tuple[JobMessage | None, bool]:
        """Claim one head job; also say whether an exhausted one was dead-lettered."""
        buried = False
        for job_id, user_id in session.execute(head_candidates(now, self._candidates)).all():
            if not self._lock_user(session, LEASE_LOCK_SPACE, user_id, wait=False):
                continue
            job = session.execute(claim(job_id, now)).scalar_one_or_none()
            if job is None:
                continue
            if job.status == LEASED and job.attempts >= job.max_attempts:
                _bury(job, now, f"lease expired on attempt {job.attempts} of "
                                f"{job.max_attempts} without an ack")
                buried = True
                continue
            job.status = LEASED
            job.attempts += 1
            job.lease_token = new_id()
            job.lease_expires_at = expires
            job.updated_at = now
            return _message(job), buried
        return None, buried

    def extend(self, job: JobMessage, *, lease_s: float | None = None) -> JobMessage:
        """Move the lease's expiry to ``lease_s`` from now; the token stays the same."""
        expires = self._clock() + timedelta(seconds=self._lease_s if lease_s is None else lease_s)
        self._update_held(job, "extend", lease_expires_at=expires)
        return replace(job, lease_expires_at=expires)

    def ack(self, job: JobMessage) -> None:
        """Mark the job done; :class:`LeaseLost` if the token is not current."""
        self._update_held(job, "ack", status=DONE, lease_token=None, lease_expires_at=None)

    def retry(self, job: JobMessage, error: str) -> RetryOutcome:
        """Back off and queue again, or dead-letter after the last attempt."""
        now = self._clock()
        with self._db.session() as session:
            row = session.execute(
                select(Job).where(_held(job)).with_for_update()
            ).scalar_one_or_none()
            if row is None:
                raise self._refused(job, "retry")
            if self._policy.exhausted(row.attempts, row.max_attempts):
                _bury(row, now, error)
                return RetryOutcome(dead_lettered=True, run_after=None)
            run_after = now + timedelta(seconds=self._policy.delay_s(row.attempts))
            row.status = QUEUED
            row.run_after = run_after
            row.lease_token = None
            row.lease_expires_at = None
            row.last_error = clip_error(error)
            row.updated_at = now
        return RetryOutcome(dead_lettered=False, run_after=run_after)

    def dead_letter(self, job: JobMessage, error: str) -> None:
        """Give up on the job now, keeping ``error`` for ``list_dead``."""
        self._update_held(job, "dead_letter", status=DEAD, lease_token=None,
                          lease_expires_at=None, last_error=clip_error(error))

    def list_dead(self, *, user_id: str | None = None, limit: int = 100) -> list[DeadJob]:
        """Dead jobs, most recently failed first."""
        query = select(Job).where(Job.status == DEAD)
        if user_id is not None:
            query = query.where(Job.user_id == user_id)
        query = query.order_by(Job.updated_at.desc(), Job.id).limit(max(1, limit))
        with self._db.session() as session:
            return [_dead(job) for job in session.execute(query).scalars()]

    def requeue_dead(self, job_id: str) -> EnqueuedJob:
        """Queue a dead job again with zero attempts, keeping its place in its user's order.

        Raises ``NotFound`` for no such dead job, ``Conflict`` when a pending job already
        holds its dedup key.
        """
        now = self._clock()
        with self._db.session() as session:
            job = session.execute(
                select(Job).where(Job.id == job_id, Job.status == DEAD).with_for_update()
            ).scalar_one_or_none()
            if job is None:
                raise NotFound("no dead job with this id", field="job_id")
            self._lock_user(session, ENQUEUE_LOCK_SPACE, job.user_id, wait=True)
            key = _dedup_key(job.payload)
            duplicate = _pending_duplicate(session, job.user_id, key) if key else None
            if duplicate is not None:
                raise Conflict(f"job {duplicate[0]} with the same dedup key is pending",
                               field="job_id")
            job.status = QUEUED
            job.attempts = 0
            job.run_after = now
            job.lease_token = None
            job.lease_expires_at = None
            job.updated_at = now
        return EnqueuedJob(id=job_id, created=True, status=QUEUED)

    def depth(self) -> QueueDepth:
        """Counts of ready, backing-off, in-flight and dead jobs."""
        now = self._clock()
        count = func.count(Job.id)
        query = select(
            count.filter(is_available(Job, now)),
            count.filter(and_(Job.status == QUEUED, Job.run_after > now)),
            count.filter(is_live_lease(Job, now)),
            count.filter(Job.status == DEAD),
            func.min(Job.run_after).filter(is_available(Job, now)),
        ).where(Job.status.in_((QUEUED, LEASED, DEAD)))
        with self._db.session() as session:
            ready, delayed, in_flight, dead, oldest = session.execute(query).one()
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return QueueDepth(ready=ready, delayed=delayed, in_flight=in_flight, dead=dead,
                          oldest_ready_age_s=max(0.0, age))

    def _update_held(self, job: JobMessage, operation: str, **values: Any) -> None:
        """Apply ``values`` to the job if ``job``'s lease is current, else refuse."""
        statement = (
            update(Job).where(_held(job)).values(updated_at=self._clock(), **values)
            .returning(Job.id).execution_options(synchronize_session=False)
        )
        with self._db.session() as session:
            changed = session.execute(statement).first()
        if changed is None:
            raise self._refused(job, operation)

    def _refused(self, job: JobMessage, operation: str) -> LeaseLost:
        # A stale worker is normal after a long pause; it must know its result did not count.
        _log.warning("queue.lease_lost", job_id=job.id, operation=operation,
                     attempts=job.attempts)
        return LeaseLost(job.id, operation)

    def _lock_user(self, session: Session, space: int, user_id: str, *, wait: bool) -> bool:
        """Take the per-user transaction lock on PostgreSQL (SQLite's writer lock suffices)."""
        if not self._postgres:
            return True
        key = user_lock_key(user_id)
        if wait:
            session.execute(select(func.pg_advisory_xact_lock(space, key)))
            return True
        return bool(session.execute(select(func.pg_try_advisory_xact_lock(space, key))).scalar())


def _held(job: JobMessage) -> ColumnElement[bool]:
    return and_(Job.id == job.id, Job.status == LEASED, Job.lease_token == job.lease_token)


def _bury(job: Job, now: datetime, error: str) -> None:
    job.status = DEAD
    job.last_error = clip_error(error)
    job.lease_token = None
    job.lease_expires_at = None
    job.updated_at = now


def _next_stamp(session: Session, user_id: str, now: datetime) -> datetime:
    """``now``, or just after the user's newest pending job when clocks disagree or tie."""
    newest = session.execute(
        select(func.max(Job.created_at)).where(Job.user_id == user_id,
                                               Job.status.in_(PENDING))
    ).scalar_one_or_none()
    if newest is None:
        return now
    return max(now, _aware(newest) + _ONE_TICK)


def _aware(value: Any) -> datetime:
    # An aggregate loses the column type, so SQLite hands back a naive value or a string.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


def _pending_duplicate(session: Session, user_id: str, key: str) -> tuple[str, str] | None:
    row = session.execute(
        select(Job.id, Job.status).where(
            Job.user_id == user_id, Job.status.in_(PENDING),
            Job.payload[DEDUP_FIELD].as_string() == key,
        ).limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else None


def _bring_forward(session: Session, job_id: str, run_after: datetime) -> None:
    """A duplicate that asks for an earlier start moves a queued job's start forward: a job
    waiting out a delay or a retry backoff must not hold back a nudge that is due now (a
    delete during a heal's backoff would otherwise wait the whole backoff)."""
    session.execute(update(Job).where(Job.id == job_id, Job.status == QUEUED,
                                      Job.run_after > run_after)
                    .values(run_after=run_after).execution_options(synchronize_session=False))


def _stored_payload(payload: Mapping[str, Any] | None, dedup_key: str | None) -> dict[str, Any]:
    stored = dict(payload or {})
    if DEDUP_FIELD in stored:
        raise InvalidInput(f"payload key {DEDUP_FIELD!r} is reserved", field="payload")
    if dedup_key is not None:
        if not dedup_key or len(dedup_key) > 200:
            raise InvalidInput("dedup_key must be 1 to 200 characters", field="dedup_key")
        stored[DEDUP_FIELD] = dedup_key
    return stored


def _dedup_key(stored: Mapping[str, Any]) -> str | None:
    key = stored.get(DEDUP_FIELD)
    return key if isinstance(key, str) else None


def _visible_payload(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in stored.items() if key != DEDUP_FIELD}


def _message(job: Job) -> JobMessage:
    assert job.lease_token is not None and job.lease_expires_at is not None
    return JobMessage(
        id=job.id, user_id=job.user_id, kind=job.kind, payload=_visible_payload(job.payload),
        deployment_id=job.deployment_id, priority=job.priority, attempts=job.attempts,
        max_attempts=job.max_attempts, lease_token=job.lease_token,
        lease_expires_at=job.lease_expires_at, dedup_key=_dedup_key(job.payload),
    )


def _dead(job: Job) -> DeadJob:
    return DeadJob(
        id=job.id, user_id=job.user_id, kind=job.kind, payload=_visible_payload(job.payload),
        deployment_id=job.deployment_id, attempts=job.attempts, last_error=job.last_error,
        failed_at=job.updated_at, dedup_key=_dedup_key(job.payload),
    )
