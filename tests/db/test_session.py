"""Database: URL normalisation, ping, commit/rollback, SQLite foreign keys."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from flowllama.db.session import Database, normalise_url
from flowllama.db.tables import RefreshToken, User
from flowllama.db.types import utcnow


def test_plain_postgres_url_uses_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_ping_fails_cleanly_when_unreachable() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    assert db.ping() is False


def test_session_rolls_back_on_error(database: Database) -> None:
    with pytest.raises(RuntimeError), database.session() as session:
        session.add(User(email="a@example.com", password_hash="x"))
        session.flush()
        raise RuntimeError("boom")
    with database.session() as session:
        assert session.query(User).count() == 0


def test_foreign_keys_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(RefreshToken(user_id="missing", family_id="f", token_hash="h",
                                 expires_at=utcnow()))


def test_datetimes_come_back_aware_utc(database: Database) -> None:
    with database.session() as session:
        session.add(User(email="a@example.com", password_hash="x"))
    with database.session() as session:
        user = session.query(User).one()
        assert user.created_at.tzinfo is not None
        assert user.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
