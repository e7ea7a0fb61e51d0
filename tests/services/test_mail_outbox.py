"""The mail outbox: requests only queue; the worker sends once, keeps failures for a retry,
and writes plain-text mail whose links survive copying."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

from sqlalchemy import select, update

from flowllama.db.session import Database
from flowllama.db.tables import MailOutbox
from flowllama.db.types import utcnow
from flowllama.services import mail_outbox
from flowllama.services.mailer import OutboxMailer

LINK = "http://127.0.0.1:8000/reset.html?token=" + "A-b_c" * 12


class FailingMailer:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, to: str, subject: str, body: str) -> None:
        self.calls += 1
        raise ConnectionRefusedError("smtp is down")


def _queue(database: Database, body: str = f"Open this link:\n{LINK}\n") -> None:
    with database.session() as session:
        mail_outbox.enqueue(session, "ada@example.com", "Reset", body)


def test_sent_once_as_plain_text_with_the_link_intact(database: Database, tmp_path: Path
                                                      ) -> None:
    _queue(database)
    mailer = OutboxMailer(tmp_path, "FlowLlama <no-reply@example.com>")
    assert mail_outbox.deliver_due(database, mailer) == 1
    assert mail_outbox.deliver_due(database, mailer) == 0
    [file] = tmp_path.glob("*.eml")
    raw = file.read_bytes()
    assert message_from_bytes(raw)["Content-Transfer-Encoding"] == "7bit"
    assert LINK.encode() in raw  # copyable from the raw file: no "=3D", no soft breaks


def test_non_ascii_mail_is_8bit_not_quoted_printable(database: Database, tmp_path: Path
                                                     ) -> None:
    _queue(database, body=f"Grüße — öffnen Sie:\n{LINK}\n")
    mail_outbox.deliver_due(database, OutboxMailer(tmp_path, "x@example.com"))
    [file] = tmp_path.glob("*.eml")
    raw = file.read_bytes()
    assert message_from_bytes(raw)["Content-Transfer-Encoding"] == "8bit"
    assert LINK.encode() in raw


def test_a_failure_is_kept_and_retried_later(database: Database, tmp_path: Path) -> None:
    _queue(database)
    failing = FailingMailer()
    assert mail_outbox.deliver_due(database, failing) == 0
    assert mail_outbox.deliver_due(database, failing) == 0  # backing off: not due yet
    assert failing.calls == 1
    with database.session() as session:
        row = session.scalars(select(MailOutbox)).one()
        assert row.sent_at is None and row.attempts == 1
        assert "smtp is down" in (row.last_error or "")
        session.execute(update(MailOutbox).values(next_attempt_at=utcnow()))
    assert mail_outbox.deliver_due(database, OutboxMailer(tmp_path, "x@example.com")) == 1

