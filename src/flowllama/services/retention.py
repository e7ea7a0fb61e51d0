"""Retention: delete finished records once they are older than their retention period.

Finished jobs (done or dead), deployment events, settled webhook deliveries (delivered or
failed), expired refresh and password-reset tokens, settled mail (sent, or given up after
``mail_outbox.MAX_ATTEMPTS``: its body still holds a reset link) and processed reset requests
would otherwise grow without bound (throttle counters are the accounts worker's to purge).
:func:`purge` deletes them in batches of ``batch_size`` rows, each batch its own short
transaction, so a large backlog never holds a long lock; a run stops after
``MAX_BATCHES_PER_KIND`` batches of a kind and the next run goes on. The agent runs it every
``FLOWLLAMA_RETENTION__INTERVAL_S`` (:class:`RetentionPurger`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select

from flowllama.db.session import Database
from flowllama.db.tables import (
    DeploymentEvent,
    Job,
    MailOutbox,
    PasswordResetToken,
    RefreshToken,
    ResetRequest,
    WebhookDelivery,
)
from flowllama.db.types import utcnow
from flowllama.logging import get_logger
from flowllama.loops import LoopHealth, supervise
from flowllama.queue.selection import DEAD, DONE
from flowllama.services.mail_outbox import MAX_ATTEMPTS
from flowllama.settings import RetentionSettings

log = get_logger(__name__)

MAX_BATCHES_PER_KIND = 100


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of record: its table, how old it must be, and which rows are finished."""

    name: str
    table: Any  # a mapped class with an ``id`` column
    days: int
    older_than: Callable[[datetime], ColumnElement[bool]]


def kinds(settings: RetentionSettings) -> list[Kind]:
    """What is purged, with each kind's retention from ``settings`` (0 keeps it forever)."""
    return [
        Kind("jobs", Job, settings.jobs_days,
             lambda cutoff: Job.status.in_((DONE, DEAD)) & (Job.updated_at < cutoff)),
        Kind("events", DeploymentEvent, settings.events_days,
             lambda cutoff: DeploymentEvent.at < cutoff),
        Kind("webhook_deliveries", WebhookDelivery, settings.webhook_deliveries_days,
             lambda cutoff: WebhookDelivery.status.in_(("delivered", "failed"))
             & (WebhookDelivery.created_at < cutoff)),
        Kind("refresh_tokens", RefreshToken, settings.expired_tokens_days,
             lambda cutoff: RefreshToken.expires_at < cutoff),
        Kind("password_reset_tokens", PasswordResetToken, settings.expired_tokens_days,
             lambda cutoff: PasswordResetToken.expires_at < cutoff),
        # Throttle counters are purged by the accounts worker (services/throttle.purge).
        Kind("sent_mail", MailOutbox, settings.sent_mail_days,
             lambda cutoff: MailOutbox.sent_at < cutoff),
        # The worker no longer tries these; kept, they would keep a reset link in the clear.
        Kind("failed_mail", MailOutbox, settings.sent_mail_days,
             lambda cutoff: MailOutbox.sent_at.is_(None) & (MailOutbox.attempts >= MAX_ATTEMPTS)
             & (MailOutbox.created_at < cutoff)),
        Kind("reset_requests", ResetRequest, settings.sent_mail_days,
             lambda cutoff: ResetRequest.processed_at < cutoff),
    ]


def purge(db: Database, settings: RetentionSettings, now: datetime | None = None
          ) -> dict[str, int]:
    """Delete what is past retention; returns the rows deleted per kind."""
    current = now or utcnow()
    deleted: dict[str, int] = {}
    for kind in kinds(settings):
        if kind.days > 0:
            deleted[kind.name] = _purge_kind(db, kind, current - timedelta(days=kind.days),
                                             settings.batch_size)
    return deleted


def _purge_kind(db: Database, kind: Kind, cutoff: datetime, batch_size: int) -> int:
    total = 0
    for _ in range(MAX_BATCHES_PER_KIND):
        with db.session() as session:
            ids = session.scalars(select(kind.table.id).where(kind.older_than(cutoff))
                                  .limit(batch_size)).all()
            if ids:
                session.execute(delete(kind.table).where(kind.table.id.in_(ids))
                                .execution_options(synchronize_session=False))
        total += len(ids)
        if len(ids) < batch_size:
            break
    return total


class RetentionPurger:
    """Runs :func:`purge` every ``interval_s`` in a daemon thread (the agent starts one)."""

    def __init__(self, db: Database, settings: RetentionSettings,
                 loops: LoopHealth | None = None) -> None:
        self.db = db
        self.settings = settings
        self.loops = loops or LoopHealth()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat = self.loops.register("retention-purge")

    def start(self) -> None:
        self._thread = threading.Thread(
            target=supervise, args=(self._beat, self._round, self._stopping),
            kwargs={"idle_s": self.settings.interval_s}, name=self._beat.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.loops.retire(self._beat)

    def _round(self) -> bool:
        deleted = purge(self.db, self.settings)
        if any(deleted.values()):
            log.info("retention.purged", **deleted)
        return False
