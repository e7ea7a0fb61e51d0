"""Queued reset requests: a known email gets one token and one mail, an unknown one nothing,
and a request is handled once even by several workers at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from flowllama.db.session import Database
from flowllama.db.tables import MailOutbox, PasswordResetToken, ResetRequest
from flowllama.services import password_reset
from flowllama.services.users import create_user

PASSWORD = "correct horse battery staple"


def _count(database: Database, table: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_known_email_gets_a_token_and_a_mail_unknown_gets_nothing(database: Database) -> None:
    with database.session() as session:
        create_user(session, "ada@example.com", PASSWORD)
        password_reset.request_reset(session, "Ada@Example.com")
        password_reset.request_reset(session, "nobody@example.com")
    assert password_reset.process_requests(database, 3600, "http://t") == 2
    assert _count(database, PasswordResetToken) == 1
    with database.session() as session:
        mail = session.scalars(select(MailOutbox)).one()
        assert mail.recipient == "ada@example.com" and "http://t/reset.html?token=" in mail.body
        assert session.scalar(select(func.count()).where(ResetRequest.processed_at.is_(None))
                              ) == 0


def test_parallel_workers_handle_each_request_once(database: Database) -> None:
    with database.session() as session:
        create_user(session, "ada@example.com", PASSWORD)
        for _ in range(5):
            password_reset.request_reset(session, "ada@example.com")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: password_reset.process_requests(database, 3600, "http://t"),
                      range(4)))
    assert _count(database, MailOutbox) == 5
    assert _count(database, PasswordResetToken) == 5
