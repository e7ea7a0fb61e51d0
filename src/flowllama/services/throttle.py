"""Fixed-window request counters shared by every API process, bumped atomically.

One row per subject (``login:<email>|<address>``, ``register:<address>``…) holds the start of
its current window and the number of requests counted in it. :func:`hit` adds one with a
single ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (SQLite 3.35+ and PostgreSQL): the
database serialises concurrent hits on one row, so N parallel requests see counts 1…N and
exactly ``limit`` of them pass, whatever the number of processes. A window that has ended
restarts at 1 in the same statement.

Per-address subjects use :func:`address_bucket`: an IPv4 client is one address, an IPv6
client its /64, the smallest block a site is given (it can rotate through every address in
it at will).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from flowllama.db.tables import ThrottleCounter
from flowllama.db.types import utcnow
from flowllama.errors import RateLimited

IPV6_PREFIX = 64  # one site, one subscriber: what a single client controls


def address_bucket(address: str | None) -> str:
    """The key a client address is counted under: an IPv4 address as itself (an IPv4-mapped
    IPv6 one too), an IPv6 address as its /64 (``2001:db8:1:2::/64``), ``unknown`` when there
    is none; a string that is no address is kept as it is."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Limit:
    """At most ``max`` counted requests per subject per ``window_s`` seconds."""

    max: int
    window_s: int


@dataclass(frozen=True)
class Count:
    """A subject's count in its window, just after a hit."""

    count: int
    window_start: datetime

    def retry_after(self, limit: Limit, now: datetime) -> int:
        """Seconds until the window ends (at least 1)."""
        ends = self.window_start + timedelta(seconds=limit.window_s)
        return max(1, int((ends - now).total_seconds()) + 1)


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def hit(session: Session, subject: str, limit: Limit, now: datetime | None = None) -> Count:
    """Count one request for ``subject`` and return the count in its window (atomic)."""
    now = now or utcnow()
    table = ThrottleCounter.__table__
    expired = table.c.window_start <= now - timedelta(seconds=limit.window_s)
    statement = (
        _insert(session)(table).values(subject=subject, window_start=now, count=1)
        .on_conflict_do_update(
            index_elements=[table.c.subject],
            set_={
                "count": case((expired, 1), else_=table.c.count + 1),
                "window_start": case((expired, now), else_=table.c.window_start),
            },
        )
        .returning(table.c.count, table.c.window_start)
    )
    count, window_start = session.execute(statement).one()
    return Count(count=count, window_start=window_start)


def enforce(session: Session, subject: str, limit: Limit, message: str,
            code: str = "too_many_requests") -> None:
    """Count a request for ``subject``; raise ``RateLimited`` (429 + ``Retry-After``) past
    ``limit.max`` in the window. Counted requests stay counted although the caller fails."""
    now = utcnow()
    counted = hit(session, subject, limit, now)
    if counted.count > limit.max:
        raise RateLimited(message, retry_after=counted.retry_after(limit, now), code=code)


def give_back(session: Session, subject: str) -> None:
    """Uncount one request of ``subject`` (a login that turned out to be right)."""
    session.execute(
        update(ThrottleCounter).where(ThrottleCounter.subject == subject,
                                      ThrottleCounter.count > 0)
        .values(count=ThrottleCounter.count - 1)
    )


def forget(session: Session, subject: str) -> None:
    """Drop ``subject``'s counter altogether."""
    session.execute(delete(ThrottleCounter).where(ThrottleCounter.subject == subject))


def purge(session: Session, older_than_s: int, now: datetime | None = None) -> int:
    """Delete counters whose window started more than ``older_than_s`` ago (longest window
    in use): they would restart at 1 anyway. Returns how many went."""
    cutoff = (now or utcnow()) - timedelta(seconds=older_than_s)
    result = session.execute(delete(ThrottleCounter).where(ThrottleCounter.window_start < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
