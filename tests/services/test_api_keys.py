"""The API keys service on SQLite and PostgreSQL: lookup by the presented key, usability
(revoked, expired), revocation scoped to the owner, and batched ``last_used_at``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flowllama.db.session import Database
from flowllama.db.tables import ApiKey, User
from flowllama.db.types import utcnow
from flowllama.domain.keys import ApiKeyCreate
from flowllama.errors import NotFound
from flowllama.services import api_keys


def _user(database: Database, email: str = "ada@example.com") -> User:
    with database.session() as session:
        user = User(email=email, password_hash="x")
        session.add(user)
    return user


def test_find_by_secret_finds_the_key_and_nothing_else(database: Database) -> None:
    user = _user(database)
    with database.session() as session:
        row, secret = api_keys.create(session, user, ApiKeyCreate(name="k"))
    with database.session() as session:
        found = api_keys.find_by_secret(session, secret)
        assert found is not None and found.id == row.id
        assert api_keys.find_by_secret(session, secret + "x") is None
        assert api_keys.find_by_secret(session, secret[3:]) is None  # no fl- prefix
        assert api_keys.find_by_secret(session, "") is None


def test_usable_unless_revoked_or_expired(database: Database) -> None:
    now = utcnow()
    row = ApiKey(user_id="u", name="k", prefix="fl-x", key_hash="h")
    assert api_keys.is_usable(row, now)
    row.expires_at = now + timedelta(seconds=1)
    assert api_keys.is_usable(row, now)
    row.expires_at = now
    assert not api_keys.is_usable(row, now)
    row.expires_at, row.revoked_at = None, now
    assert not api_keys.is_usable(row, now)


def test_revoke_is_owner_scoped(database: Database) -> None:
    ada, eve = _user(database), _user(database, "eve@example.com")
    with database.session() as session:
        row, _ = api_keys.create(session, ada, ApiKeyCreate(name="k"))
    with database.session() as session, pytest.raises(NotFound):
        api_keys.revoke(session, eve, row.id)
    with database.session() as session:
        api_keys.revoke(session, ada, row.id)
    with database.session() as session:
        assert api_keys.list_live(session, ada) == []


def test_last_used_moves_forward_only(database: Database) -> None:
    user = _user(database)
    with database.session() as session:
        row, _ = api_keys.create(session, user, ApiKeyCreate(name="k"))
    later = utcnow()
    earlier = later - timedelta(minutes=5)
    with database.session() as session:
        api_keys.record_last_used(session, {row.id: later})
    with database.session() as session:
        api_keys.record_last_used(session, {row.id: earlier})
    with database.session() as session:
        stored = session.get(ApiKey, row.id)
        assert stored is not None and stored.last_used_at == later
