"""The ``api`` role's background loop: handle queued password-reset requests, send queued
mail, and now and then drop throttle counters whose window ended long ago (so sprayed
subjects do not pile up).

It runs on the serving event loop and does its blocking work in a thread; a failing round (a
database outage) is logged and retried with backoff, never ends the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from flowllama.db.session import Database
from flowllama.logging import get_logger
from flowllama.services import mail_outbox, password_reset, throttle
from flowllama.services.mailer import Mailer

log = get_logger(__name__)

PURGE_EVERY_S = 600.0
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class ResetLinks:
    """How the worker writes reset links: their lifetime and the site's public URL."""

    ttl_s: int
    public_url: str


class AccountsWorker:
    """Every ``interval_s``: handle reset requests and deliver due mail; every
    ``PURGE_EVERY_S``: purge counters older than ``keep_counters_s`` (the longest window)."""

    def __init__(self, db: Database, mailer: Mailer, links: ResetLinks, *, interval_s: float,
                 keep_counters_s: int) -> None:
        self.db = db
        self.mailer = mailer
        self.links = links
        self.interval_s = interval_s
        self.keep_counters_s = keep_counters_s
        self._last_purge = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="accounts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def step(self) -> None:
        """One round (blocking)."""
        password_reset.process_requests(self.db, self.links.ttl_s, self.links.public_url)
        mail_outbox.deliver_due(self.db, self.mailer)
        if time.monotonic() - self._last_purge >= PURGE_EVERY_S:
            with self.db.session() as session:
                throttle.purge(session, self.keep_counters_s)
            self._last_purge = time.monotonic()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await asyncio.to_thread(self.step)
                failures = 0
            except Exception as exc:  # a database outage must not end the loop
                failures += 1
                log.warning("accounts.worker_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(min(self.interval_s * 2 ** min(failures, 6), MAX_BACKOFF_S))
