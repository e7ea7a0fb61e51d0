"""Job priority from a user's tier: paid users' jobs are delivered before free users' jobs.

Priority is a plain integer stored on each job (higher first), so a tier change affects only
jobs enqueued after it and a caller may still pass an explicit value.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import User
from flowllama.errors import NotFound


class Priority(IntEnum):
    FREE = 0
    PAID = 10


_BY_TIER = {"free": Priority.FREE, "paid": Priority.PAID}


def priority_for_tier(tier: str) -> int:
    """The priority of a tier's jobs; an unknown tier is treated as free."""
    return int(_BY_TIER.get(tier, Priority.FREE))


def is_paid(priority: int) -> bool:
    """True for priorities served from the paid lane (SQS keeps one queue per lane)."""
    return priority >= Priority.PAID


def user_priority(session: Session, user_id: str) -> int:
    """The priority of ``user_id``'s tier; raises ``NotFound`` for an unknown user."""
    tier = session.execute(select(User.tier).where(User.id == user_id)).scalar_one_or_none()
    if tier is None:
        raise NotFound("user not found", field="user_id")
    return priority_for_tier(tier)


def priority_lookup(database: Database) -> Callable[[str], int]:
    """A ``user_id -> priority`` function reading the users table (for the SQS backend)."""

    def lookup(user_id: str) -> int:
        with database.session() as session:
            return user_priority(session, user_id)

    return lookup
