"""Mail leaves through an outbox: requests write a row, a background loop sends it.

A request that mails someone (a password reset) only inserts into ``mail_outbox``, so its
answer and its timing do not depend on the mail server: with SMTP down or slow, a known and an
unknown email still get the same 202 in the same time. A worker in every process serving
the ``api`` role claims due rows (a conditional update moves
``next_attempt_at`` past a lease, so two processes never send one message), sends them through
the :class:`~flowllama.services.mailer.Mailer` and marks them sent, or retries with backoff.
The loop itself is ``services/accounts_worker.py``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import MailOutbox
from flowllama.db.types import utcnow
from flowllama.logging import get_logger
from flowllama.services.mailer import Mailer

log = get_logger(__name__)

CLAIM_S = 120  # a claimed message is retried by anyone after this long (crashed sender)
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 3600
MAX_ATTEMPTS = 10


def enqueue(session: Session, to: str, subject: str, body: str) -> None:
    """Queue a plain-text message; it is sent after the session commits."""
    session.add(MailOutbox(recipient=to, subject=subject, body=body))


def _claim(db: Database, limit: int) -> list[MailOutbox]:
    now = utcnow()
    claimed: list[MailOutbox] = []
    with db.session() as session:
        due = session.scalars(
            select(MailOutbox)
            .where(MailOutbox.sent_at.is_(None), MailOutbox.next_attempt_at <= now,
                   MailOutbox.attempts < MAX_ATTEMPTS)
            .order_by(MailOutbox.next_attempt_at).limit(limit)
        ).all()
        for row in due:
            won = session.execute(
                update(MailOutbox)
                .where(MailOutbox.id == row.id, MailOutbox.next_attempt_at == row.next_attempt_at)
                .values(next_attempt_at=now + timedelta(seconds=CLAIM_S),
                        attempts=MailOutbox.attempts + 1)
            )
            if won.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row)
    return claimed


def _record(db: Database, row: MailOutbox, error: str | None) -> None:
    now = utcnow()
    with db.session() as session:
        if error is None:
            session.execute(update(MailOutbox).where(MailOutbox.id == row.id)
                            .values(sent_at=now, last_error=None))
            return
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** min(row.attempts, 16))
        session.execute(update(MailOutbox).where(MailOutbox.id == row.id)
                        .values(last_error=error[:500],
                                next_attempt_at=now + timedelta(seconds=delay)))


def deliver_due(db: Database, mailer: Mailer, limit: int = 20) -> int:
    """Send up to ``limit`` due messages (blocking); returns how many were sent."""
    sent = 0
    for row in _claim(db, limit):
        try:
            mailer.send(row.recipient, row.subject, row.body)
        except Exception as exc:  # any mail failure: keep the message and try again later
            log.warning("mail.send_failed", outbox_id=row.id, attempt=row.attempts + 1,
                        error=f"{type(exc).__name__}: {exc}")
            _record(db, row, f"{type(exc).__name__}: {exc}")
            continue
        _record(db, row, None)
        sent += 1
    return sent
