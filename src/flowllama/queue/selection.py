"""Which job may be leased next: SQL for the per-user FIFO rule, shared by SQLite and PostgreSQL.

A job is *available* when it is queued and due, or leased with an expired lease. It is the
user's *head* — and so leasable — when it is available, no other job of that user holds a live
lease, and no earlier available job of that user exists. "Earlier" is ``(created_at, id)``;
enqueue keeps ``created_at`` strictly increasing per user, so this is enqueue order. A job
waiting out a retry backoff is not available and does not hold back the user's later jobs.

These predicates read one snapshot. That alone does not stop two PostgreSQL workers from
leasing two jobs of one user (each sees the other's lease as not yet there); the database
backend therefore re-checks under a per-user lock — see ``database.py``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import AliasedClass

from flowllama.db.tables import Job

QUEUED = "queued"
LEASED = "leased"
DONE = "done"
DEAD = "dead"
PENDING = (QUEUED, LEASED)

JobEntity = type[Job] | AliasedClass[Job]

# Named once: fresh anonymous aliases per call made every lease rebuild and re-cache its SQL
# (most of a lease's cost, measured in bench/queue.py). A statement uses is_head at most once.
_IN_FLIGHT = aliased(Job, name="in_flight")
_AHEAD = aliased(Job, name="ahead")


def is_available(job: JobEntity, now: datetime) -> ColumnElement[bool]:
    """Queued and due, or leased with a lease that has run out."""
    return or_(
        and_(job.status == QUEUED, job.run_after <= now),
        and_(job.status == LEASED, job.lease_expires_at <= now),
    )


def is_live_lease(job: JobEntity, now: datetime) -> ColumnElement[bool]:
    """Leased, and the lease has not run out."""
    return and_(job.status == LEASED, job.lease_expires_at > now)


def is_head(job: JobEntity, now: datetime) -> ColumnElement[bool]:
    """Available, with nothing of the same user in flight or ahead of it."""
    in_flight, ahead = _IN_FLIGHT, _AHEAD
    user_busy = exists().where(in_flight.user_id == job.user_id, is_live_lease(in_flight, now))
    earlier = or_(
        ahead.created_at < job.created_at,
        and_(ahead.created_at == job.created_at, ahead.id < job.id),
    )
    user_has_earlier = exists().where(
        ahead.user_id == job.user_id, ahead.id != job.id, is_available(ahead, now), earlier,
        ahead.status.in_(PENDING),  # implied, but lets SQLite skip the done history by index
    )
    return and_(is_available(job, now), ~user_busy, ~user_has_earlier)


def head_candidates(now: datetime, limit: int) -> Select[str, str]:
    """Ids and users of leasable jobs in delivery order: priority, then enqueue order."""
    return (
        select(Job.id, Job.user_id)
        .where(is_head(Job, now))
        .order_by(Job.priority.desc(), Job.created_at, Job.id)
        .limit(limit)
    )


def claim(job_id: str, now: datetime) -> Select[Job]:
    """Lock ``job_id`` if it is still its user's head, skipping it if another worker holds it.

    ``SKIP LOCKED`` on PostgreSQL; SQLite compiles no row lock (its writer lock covers it).
    """
    return (
        select(Job)
        .where(Job.id == job_id, is_head(Job, now))
        .with_for_update(skip_locked=True)
    )
