"""What this gateway process sees of each instance's load, written to ``gateway_load`` every
``autopilot.load_report_interval_s`` for the autopilot (drains, load-based scaling, idle sleep).

The hot path only touches a dictionary: :meth:`LoadCounter.opened` when an instance's response
head arrives (a request counted, its time noted) and :meth:`LoadCounter.first_token` when a
stream's first event reaches the client. Requests in flight are the balancer's own counts, read
at report time, so counting them costs the hot path nothing more. Each report upserts one row
per instance this process touched since its previous report, had in flight at the previous
report, or has in flight now (so a drained instance's row goes back to 0), keyed by
``(gateway_id, instance_id)``: only this process writes its rows, so no two writers race.

At stop the last report is written with nothing in flight; the rows are kept (their
``last_request_at`` is what idle sleep reads after a gateway restart) and deleted once nobody
updated them for an hour and their last request is older than the longest idle timeout. A
failed write keeps the counts for the next round.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.autopilot_tables import GatewayLoad
from flowllama.db.session import Database
from flowllama.db.types import utcnow
from flowllama.gateway.balancer import Balancer
from flowllama.gateway.routes import Upstream
from flowllama.loops import LoopHealth
from flowllama.loops.periodic import Periodic

# Rows nobody updated for this long are a gone gateway's (or instance's) ...
STALE_ROW_AGE = timedelta(hours=1)
# ... and are deleted once their last request is older than the longest idle timeout, which
# still needs it (domain limit of ``idle_timeout_s``: 30 days).
KEEP_LAST_REQUEST = timedelta(days=30)
# Aged-out rows are looked for at most this often (a quiet gateway writes nothing otherwise).
CLEANUP_EVERY_S = 60.0


def new_gateway_id() -> str:
    """``host-pid-random``: stable for this process, distinct across restarts (64 chars max)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


@dataclass(slots=True)
class Seen:
    """One instance's counts since the previous report."""

    deployment_id: str
    requests: int = 0
    ttft_ms_sum: float = 0.0
    ttft_count: int = 0
    last_request_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoadRow:
    """One ``gateway_load`` row as a report writes it."""

    instance_id: str
    deployment_id: str
    in_flight: int
    requests: int
    ttft_ms: float | None
    last_request_at: datetime | None


class LoadCounter:
    """Per-instance counts since the previous report (see the module doc); call everything on
    the event loop's thread."""

    def __init__(self, balancer: Balancer, clock: Callable[[], datetime] = utcnow) -> None:
        self._balancer = balancer
        self._clock = clock
        self._seen: dict[str, Seen] = {}
        self._busy: dict[str, str] = {}  # instance → deployment of rows last reported busy

    def opened(self, upstream: Upstream) -> None:
        """An instance accepted a request (its response head arrived)."""
        seen = self._seen.get(upstream.instance_id)
        if seen is None:
            seen = self._seen[upstream.instance_id] = Seen(upstream.deployment_id)
        seen.requests += 1
        seen.last_request_at = self._clock()

    def first_token(self, upstream: Upstream, seconds: float) -> None:
        """A stream's first event reached the client ``seconds`` after the request began."""
        seen = self._seen.get(upstream.instance_id)
        if seen is not None:
            seen.ttft_ms_sum += seconds * 1000.0
            seen.ttft_count += 1

    def take(self, *, idle: bool = False) -> list[LoadRow]:
        """The rows of the next report, leaving the counts empty (``idle``: report nothing in
        flight, for the last report at stop)."""
        seen, self._seen = self._seen, {}
        deployments = {**self._busy, **{i: s.deployment_id for i, s in seen.items()}}
        rows = []
        busy: dict[str, str] = {}
        for instance_id, deployment_id in deployments.items():
            in_flight = 0 if idle else self._balancer.outstanding(instance_id)
            counts = seen.get(instance_id) or Seen(deployment_id)
            ttft = counts.ttft_ms_sum / counts.ttft_count if counts.ttft_count else None
            rows.append(LoadRow(instance_id, deployment_id, in_flight, counts.requests, ttft,
                                counts.last_request_at))
            if in_flight:
                busy[instance_id] = deployment_id
        self._busy = busy
        return rows

    def restore(self, rows: list[LoadRow]) -> None:
        """Put back the counts of a report that could not be written."""
        for row in rows:
            if not row.requests and row.last_request_at is None:
                self._busy.setdefault(row.instance_id, row.deployment_id)
                continue
            seen = self._seen.setdefault(row.instance_id, Seen(row.deployment_id))
            seen.requests += row.requests
            if row.ttft_ms is not None:
                seen.ttft_ms_sum += row.ttft_ms
                seen.ttft_count += 1
            if seen.last_request_at is None or (
                    row.last_request_at is not None and row.last_request_at > seen.last_request_at):
                seen.last_request_at = row.last_request_at


def write_report(db: Database, gateway_id: str, rows: list[LoadRow], *, cleanup: bool = True,
                 now: datetime | None = None) -> None:
    """Upsert ``rows`` for ``gateway_id``; with ``cleanup``, delete aged-out rows of any
    gateway (blocking)."""
    if not rows and not cleanup:
        return
    now = now or utcnow()
    with db.session() as session:
        for row in rows:
            _upsert(session, gateway_id, row, now)
        if cleanup:
            _delete_aged_out(session, now)


def _delete_aged_out(session: Session, now: datetime) -> None:
    session.execute(delete(GatewayLoad).where(
            GatewayLoad.updated_at < now - STALE_ROW_AGE,
            or_(GatewayLoad.last_request_at.is_(None),
                GatewayLoad.last_request_at < now - KEEP_LAST_REQUEST)))


def _upsert(session: Session, gateway_id: str, row: LoadRow, now: datetime) -> None:
    values: dict[str, object] = {"in_flight": row.in_flight, "requests": row.requests,
                                 "ttft_ms": row.ttft_ms, "updated_at": now}
    if row.last_request_at is not None:  # a quiet round keeps the last request it knew
        values["last_request_at"] = row.last_request_at
    result = session.execute(update(GatewayLoad).where(
        GatewayLoad.gateway_id == gateway_id, GatewayLoad.instance_id == row.instance_id,
    ).values(**values))
    if result.rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(GatewayLoad(gateway_id=gateway_id, instance_id=row.instance_id,
                                    deployment_id=row.deployment_id, **values))
    except IntegrityError:  # the deployment row is gone (hard delete): nothing to report
        pass


class LoadReporter(Periodic):
    """Writes the counter's report every ``interval_s`` in a worker thread; the last one, at
    stop, with nothing in flight."""

    name = "load-reporter"

    def __init__(self, counter: LoadCounter, db: Database, interval_s: float,
                 loops: LoopHealth | None = None, gateway_id: str | None = None) -> None:
        super().__init__(interval_s, loops)
        self.counter = counter
        self.db = db
        self.gateway_id = gateway_id or new_gateway_id()
        self._stopping = False
        self._cleaned_at = float("-inf")

    async def step(self) -> None:
        await self.report_now(idle=self._stopping)

    async def stop(self) -> None:
        self._stopping = True
        await super().stop()

    async def report_now(self, *, idle: bool = False) -> None:
        """Write a report at once (also used by tests); on failure the counts are kept and
        the error raised (the loop logs it and backs off)."""
        rows = self.counter.take(idle=idle)
        cleanup = time.monotonic() - self._cleaned_at >= CLEANUP_EVERY_S
        try:
            await asyncio.to_thread(write_report, self.db, self.gateway_id, rows,
                                    cleanup=cleanup)
        except Exception:
            self.counter.restore(rows)
            raise
        if cleanup:
            self._cleaned_at = time.monotonic()
