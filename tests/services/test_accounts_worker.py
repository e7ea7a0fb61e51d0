"""The api role's accounts worker: one round sends queued mail and purges old counters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import ThrottleCounter
from flowllama.db.types import utcnow
from flowllama.services import mail_outbox, throttle
from flowllama.services.accounts_worker import AccountsWorker, ResetLinks
from flowllama.services.mailer import OutboxMailer


def test_a_round_sends_mail_and_purges_old_counters(database: Database, tmp_path: Path
                                                    ) -> None:
    with database.session() as session:
        mail_outbox.enqueue(session, "ada@example.com", "Hello", "Hi\n")
        throttle.hit(session, "old", throttle.Limit(5, 60), now=utcnow() - timedelta(hours=2))
        throttle.hit(session, "new", throttle.Limit(5, 60))
    worker = AccountsWorker(database, OutboxMailer(tmp_path, "x@example.com"),
                            ResetLinks(3600, "http://t"), interval_s=1.0, keep_counters_s=3600)
    worker.step()
    assert len(list(tmp_path.glob("*.eml"))) == 1
    with database.session() as session:
        assert session.scalars(select(ThrottleCounter.subject)).all() == ["new"]
