"""Count tokens in memory and write them in batches into the ``usage_daily`` rollup.

The hot path only adds to a dictionary. Every ``interval_s`` the flusher swaps the dictionary
for an empty one and adds each bucket (day, owner, key, deployment, model) to its row with one
``UPDATE ... SET n = n + :n`` (inserting the row the first time), so the table grows per bucket,
never per request, and several gateway processes add to the same rows safely. A failed write
puts the counts back to be retried on the next flush; a crash loses at most one interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import UsageDaily
from flowllama.db.types import utcnow
from flowllama.logging import get_logger
from flowllama.loops import LoopHealth
from flowllama.loops.periodic import Periodic, StepFailed
from flowllama.metrics.instruments import GATEWAY_USAGE_FLUSH_FAILURES
from flowllama.services import api_keys

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Bucket:
    day: date
    user_id: str
    api_key_id: str
    deployment_id: str
    model: str


@dataclass(slots=True)
class Counts:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Counts) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


class UsageMeter:
    """In-memory usage since the last flush, and each key's latest use."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._counts: dict[Bucket, Counts] = {}
        self._last_used: dict[str, datetime] = {}

    def touch(self, api_key_id: str) -> None:
        """Note that a key was just used (flushed to ``api_keys.last_used_at``)."""
        self._last_used[api_key_id] = self._clock()

    def record(self, *, user_id: str, api_key_id: str, deployment_id: str, model: str,
               prompt_tokens: int, completion_tokens: int) -> None:
        """Count one answered request."""
        now = self._clock()
        bucket = Bucket(now.date(), user_id, api_key_id, deployment_id, model)
        counts = self._counts.setdefault(bucket, Counts())
        counts.add(Counts(1, max(0, prompt_tokens), max(0, completion_tokens)))

    def pending(self) -> dict[Bucket, Counts]:
        """A copy of what the next flush would write (for tests and diagnostics)."""
        return {b: Counts(c.requests, c.prompt_tokens, c.completion_tokens)
                for b, c in self._counts.items()}

    def take(self) -> Batch:
        """Everything counted so far, leaving the meter empty. Call it on the event loop's
        thread (where :meth:`record` runs), so no increment lands in a taken batch."""
        batch = Batch(self._counts, self._last_used)
        self._counts, self._last_used = {}, {}
        return batch

    def restore(self, batch: Batch) -> None:
        """Put back a batch that could not be written (on the event loop's thread)."""
        for bucket, bucket_counts in batch.counts.items():
            self._counts.setdefault(bucket, Counts()).add(bucket_counts)
        for key_id, at in batch.last_used.items():
            self._last_used[key_id] = max(at, self._last_used.get(key_id, at))


@dataclass(frozen=True, slots=True)
class Batch:
    """Usage taken from the meter, to be written in one transaction."""

    counts: dict[Bucket, Counts]
    last_used: dict[str, datetime]

    def write(self, db: Database) -> None:
        """Add the counts to their rows and move keys' ``last_used_at`` (blocking)."""
        if not self.counts and not self.last_used:
            return
        with db.session() as session:
            for bucket, bucket_counts in self.counts.items():
                _add(session, bucket, bucket_counts)
            api_keys.record_last_used(session, self.last_used)


def _add(session: Session, bucket: Bucket, counts: Counts) -> None:
    if _increment(session, bucket, counts):
        return
    try:
        with session.begin_nested():
            session.add(UsageDaily(
                day=bucket.day, user_id=bucket.user_id, api_key_id=bucket.api_key_id,
                deployment_id=bucket.deployment_id, model=bucket.model,
                requests=counts.requests, prompt_tokens=counts.prompt_tokens,
                completion_tokens=counts.completion_tokens, cost_usd=0.0,
            ))
    except IntegrityError:  # another gateway inserted the row first: add to it
        if not _increment(session, bucket, counts):
            raise


def _increment(session: Session, bucket: Bucket, counts: Counts) -> bool:
    result = session.execute(
        update(UsageDaily)
        .where(UsageDaily.day == bucket.day, UsageDaily.user_id == bucket.user_id,
               UsageDaily.api_key_id == bucket.api_key_id,
               UsageDaily.deployment_id == bucket.deployment_id,
               UsageDaily.model == bucket.model)
        .values(requests=UsageDaily.requests + counts.requests,
                prompt_tokens=UsageDaily.prompt_tokens + counts.prompt_tokens,
                completion_tokens=UsageDaily.completion_tokens + counts.completion_tokens)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


class UsageFlusher(Periodic):
    """Writes the meter's batch every ``interval_s`` in a worker thread, and once more at
    stop so a clean shutdown loses nothing."""

    name = "usage-flusher"

    def __init__(self, meter: UsageMeter, db: Database, interval_s: float,
                 loops: LoopHealth | None = None) -> None:
        super().__init__(interval_s, loops)
        self.meter = meter
        self.db = db

    async def step(self) -> None:
        """One flush; raises :class:`StepFailed` from the error when it failed (logged, the
        counts kept for the next flush)."""
        batch = self.meter.take()
        try:
            await asyncio.to_thread(batch.write, self.db)
        except Exception as exc:  # any failure (an outage, a bug) must keep the counts
            self.meter.restore(batch)
            GATEWAY_USAGE_FLUSH_FAILURES.inc()
            log.warning("gateway.usage_flush_failed", error=f"{type(exc).__name__}: {exc}")
            raise StepFailed("usage flush failed") from exc

    async def flush_now(self) -> bool:
        """Flush at once (also used by tests); False when it failed: the error is logged and
        the counts are kept for the next flush."""
        try:
            await self.step()
        except StepFailed:
            return False
        return True

