"""The ``api`` role's background loop: handle queued password-reset requests, send queued
mail, and now and then drop throttle counters whose window ended long ago (so sprayed
subjects do not pile up).

A :class:`~flowllama.loops.periodic.Periodic` on the serving event loop that does its
blocking work in a thread; a failing round (a database outage) is logged and retried with the
loops' backoff, never ends the loop. Its rounds
are recorded on the process's :class:`~flowllama.loops.LoopHealth` as the loop ``accounts``, so
``/ready`` and ``flowllama_loop_last_success_timestamp_seconds`` show when it stops succeeding.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from flowllama.db.session import Database
from flowllama.loops import LoopHealth
from flowllama.loops.periodic import Periodic
from flowllama.services import mail_outbox, password_reset, throttle
from flowllama.services.mailer import Mailer

PURGE_EVERY_S = 600.0


@dataclass(frozen=True)
class ResetLinks:
    """How the worker writes reset links: their lifetime and the site's public URL."""

    ttl_s: int
    public_url: str


class AccountsWorker(Periodic):
    """Every ``interval_s``: handle reset requests and deliver due mail; every
    ``PURGE_EVERY_S``: purge counters older than ``keep_counters_s`` (the longest window).
    The first round runs at start; none runs at stop (queued mail waits for the next start,
    and a stop must not wait on an unreachable mail server)."""

    name = "accounts"
    step_at_start = True
    step_at_stop = False

    def __init__(self, db: Database, mailer: Mailer, links: ResetLinks, *, interval_s: float,
                 keep_counters_s: int, loops: LoopHealth | None = None) -> None:
        super().__init__(interval_s, loops)
        self.db = db
        self.mailer = mailer
        self.links = links
        self.keep_counters_s = keep_counters_s
        self._last_purge = 0.0

    async def step(self) -> None:
        await asyncio.to_thread(self.round)

    def round(self) -> None:
        """One round (blocking)."""
        password_reset.process_requests(self.db, self.links.ttl_s, self.links.public_url)
        mail_outbox.deliver_due(self.db, self.mailer)
        if time.monotonic() - self._last_purge >= PURGE_EVERY_S:
            with self.db.session() as session:
                throttle.purge(session, self.keep_counters_s)
            self._last_purge = time.monotonic()
