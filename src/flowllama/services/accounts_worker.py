"""The ``api`` role's background loop: handle queued password-reset requests, send queued
mail, and now and then drop throttle counters whose window ended long ago (so sprayed
subjects do not pile up).

It runs on the serving event loop and does its blocking work in a thread; a failing round (a
database outage) is logged and retried with the loops' backoff, never ends the loop. Its rounds
are recorded on the process's :class:`~flowllama.loops.LoopHealth` as the loop ``accounts``, so
``/ready`` and ``flowllama_loop_last_success_timestamp_seconds`` show when it stops succeeding.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from flowllama.db.outage import is_unavailable
from flowllama.db.session import Database
from flowllama.logging import get_logger
from flowllama.loops import Beat, LoopHealth
from flowllama.services import mail_outbox, password_reset, throttle
from flowllama.services.mailer import Mailer

log = get_logger(__name__)

PURGE_EVERY_S = 600.0


@dataclass(frozen=True)
class ResetLinks:
    """How the worker writes reset links: their lifetime and the site's public URL."""

    ttl_s: int
    public_url: str


class AccountsWorker:
    """Every ``interval_s``: handle reset requests and deliver due mail; every
    ``PURGE_EVERY_S``: purge counters older than ``keep_counters_s`` (the longest window)."""

    name = "accounts"

    def __init__(self, db: Database, mailer: Mailer, links: ResetLinks, *, interval_s: float,
                 keep_counters_s: int, loops: LoopHealth | None = None) -> None:
        self.db = db
        self.mailer = mailer
        self.links = links
        self.interval_s = interval_s
        self.keep_counters_s = keep_counters_s
        self.loops = loops or LoopHealth()
        self._last_purge = 0.0
        self._beat: Beat | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._beat = self.loops.register(self.name)
        self._task = asyncio.get_running_loop().create_task(self._run(self._beat),
                                                           name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._beat is not None:
            self.loops.retire(self._beat)

    def step(self) -> None:
        """One round (blocking)."""
        password_reset.process_requests(self.db, self.links.ttl_s, self.links.public_url)
        mail_outbox.deliver_due(self.db, self.mailer)
        if time.monotonic() - self._last_purge >= PURGE_EVERY_S:
            with self.db.session() as session:
                throttle.purge(session, self.keep_counters_s)
            self._last_purge = time.monotonic()

    async def _run(self, beat: Beat) -> None:
        try:
            while True:
                await asyncio.sleep(await self._round(beat))
        except asyncio.CancelledError:
            raise
        except BaseException:
            beat.died()
            log.exception("loop.died", loop=self.name)
            raise

    async def _round(self, beat: Beat) -> float:
        """One round; returns how long to wait before the next."""
        try:
            await asyncio.to_thread(self.step)
        except Exception as exc:  # a database outage, a bug: must not end the loop
            delay = beat.failed(exc)
            log.warning("loop.step_failed", loop=self.name, attempt=beat.failures,
                        retry_in_s=round(delay, 2), error=beat.last_error,
                        exc_info=None if is_unavailable(exc) else exc)
            return max(delay, self.interval_s)
        beat.succeeded()
        return self.interval_s
