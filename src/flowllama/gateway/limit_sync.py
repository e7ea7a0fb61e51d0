"""Share per-key rate-limit counts between gateway processes through the database.

Every ``interval_s`` :class:`LimitSync` takes what this process's :class:`RateLimiter` counted
and has not synced yet, adds it to ``rate_counts`` (one row per key, kind and minute) with one
batched ``UPDATE ... SET count = count + :n`` (inserting the rows a minute's first sync needs;
a concurrent insert by another gateway falls back to the update), reads back the totals of the
current and previous minute for the keys this process saw recently, and hands them to the
limiter. All of it is one transaction in a worker thread, so requests never wait for the
database. A failed sync logs a warning and keeps the counts for the next one (meanwhile the
limiter goes on with the last totals plus its own counts). Once a minute, a sync with something
to write also deletes rows older than ``PRUNE_AFTER_MINUTES``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import RateCount
from flowllama.gateway.limits import Pending, RateLimiter, RowKey
from flowllama.logging import get_logger
from flowllama.loops import LoopHealth
from flowllama.loops.periodic import Periodic, StepFailed

log = get_logger(__name__)

PRUNE_AFTER_MINUTES = 5
"""Rows of older minutes are deleted: only the current and previous minute count."""

_CHUNK = 500  # keys per IN list, well below SQLite's bound-parameter limit

_TABLE = cast(Table, RateCount.__table__)  # Core, so that the batch is one executemany
_INCREMENT = (
    update(_TABLE)
    .where(_TABLE.c.api_key_id == bindparam("k"), _TABLE.c.kind == bindparam("kd"),
           _TABLE.c.minute == bindparam("m"))
    .values(count=_TABLE.c.count + bindparam("n"))
)


def exchange(db: Database, pending: Pending, prune_before: int | None = None
             ) -> dict[RowKey, int]:
    """Add ``pending.counts`` to their rows, delete rows of minutes before ``prune_before``
    (when given) and return the totals of ``pending.keys`` for ``pending.minute`` and the
    minute before it, all in one transaction (blocking)."""
    with db.session() as session:
        if pending.counts:
            _add(session, pending.counts)
        if prune_before is not None:
            session.execute(delete(RateCount).where(RateCount.minute < prune_before))
        return _totals(session, pending.keys, (pending.minute - 1, pending.minute))


def _add(session: Session, counts: dict[RowKey, int]) -> None:
    """Insert the rows that do not exist yet with their counts and add the rest in one batch."""
    missing = set(counts) - _existing(session, counts)
    increments = [row for row in counts if row not in missing]
    for row in sorted(missing):  # a stable order keeps concurrent inserts from deadlocking
        try:
            with session.begin_nested():
                session.add(RateCount(api_key_id=row[0], kind=row[1], minute=row[2],
                                      count=counts[row]))
        except IntegrityError:  # another gateway inserted it first (or the key is gone): add
            increments.append(row)
    if increments:
        # One executemany; a key deleted meanwhile matches no row and its counts are dropped.
        session.connection().execute(_INCREMENT, [
            {"k": key_id, "kd": kind, "m": minute, "n": counts[(key_id, kind, minute)]}
            for key_id, kind, minute in sorted(increments)
        ])


def _existing(session: Session, counts: dict[RowKey, int]) -> set[RowKey]:
    minutes = sorted({minute for _, _, minute in counts})
    found: set[RowKey] = set()
    for keys in _chunks(sorted({key_id for key_id, _, _ in counts})):
        rows = session.execute(
            select(RateCount.api_key_id, RateCount.kind, RateCount.minute)
            .where(RateCount.api_key_id.in_(keys), RateCount.minute.in_(minutes))
        )
        found.update((key_id, kind, minute) for key_id, kind, minute in rows)
    return found


def _totals(session: Session, key_ids: Sequence[str], minutes: Sequence[int]
            ) -> dict[RowKey, int]:
    totals: dict[RowKey, int] = {}
    for keys in _chunks(sorted(key_ids)):
        rows = session.execute(
            select(RateCount.api_key_id, RateCount.kind, RateCount.minute, RateCount.count)
            .where(RateCount.api_key_id.in_(keys), RateCount.minute.in_(minutes))
        )
        totals.update(((key_id, kind, minute), count) for key_id, kind, minute, count in rows)
    return totals


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


class LimitSync(Periodic):
    """Syncs the limiter with ``rate_counts`` every ``interval_s`` in a worker thread, and once
    more at stop so the counts of a clean shutdown still reach the other gateways."""

    name = "limit-sync"

    def __init__(self, limiter: RateLimiter, db: Database, interval_s: float,
                 loops: LoopHealth | None = None) -> None:
        super().__init__(interval_s, loops)
        self.limiter = limiter
        self.db = db
        self._pruned_minute: int | None = None

    async def step(self) -> None:
        """One sync; raises :class:`StepFailed` from the error when it failed (logged, the
        counts kept pending for the next one)."""
        pending = self.limiter.pending()  # on the loop's thread, like admit() and spend()
        if not pending.counts and not pending.keys:
            return  # nothing seen lately: no database round trip
        prune_before = None
        if pending.counts and self._pruned_minute != pending.minute:
            prune_before = pending.minute - PRUNE_AFTER_MINUTES
        try:
            # asyncio's executor, not anyio's: the sync must not take a thread token from
            # the requests that FastAPI runs in anyio's limited pool.
            totals = await asyncio.to_thread(exchange, self.db, pending, prune_before)
        except Exception as exc:  # an outage or a bug: keep the counts for the next sync
            log.warning("gateway.limit_sync_failed", error=f"{type(exc).__name__}: {exc}")
            raise StepFailed("limit sync failed") from exc
        if prune_before is not None:
            self._pruned_minute = pending.minute
        self.limiter.synced(pending, totals)

    async def sync_now(self) -> bool:
        """One sync at once (also used by tests). False when it failed: the error is logged
        and the counts stay pending for the next one."""
        try:
            await self.step()
        except StepFailed:
            return False
        return True
