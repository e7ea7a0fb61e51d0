"""Row leases: one holder at a time, renewal only by the holder, expiry frees the row."""

from __future__ import annotations

from flowllama.agent import leases
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, User


def _deployment(database: Database) -> str:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        row = Deployment(user_id=user.id, name="chat", model="local/tiny", context_size=512)
        session.add(row)
        session.flush()
        return row.id


def test_one_holder_at_a_time(database: Database) -> None:
    deployment_id = _deployment(database)
    token = leases.acquire(database, deployment_id, 60)
    assert token is not None
    assert leases.acquire(database, deployment_id, 60) is None
    assert leases.renew(database, deployment_id, token, 60)
    assert not leases.renew(database, deployment_id, "someone-else", 60)
    leases.release(database, deployment_id, "someone-else")  # not theirs: nothing happens
    assert leases.acquire(database, deployment_id, 60) is None
    leases.release(database, deployment_id, token)
    assert leases.acquire(database, deployment_id, 60) is not None


def test_an_expired_lease_is_taken_over_and_the_old_holder_loses_it(database: Database) -> None:
    deployment_id = _deployment(database)
    stale = leases.acquire(database, deployment_id, -1)  # already expired: a dead agent's
    assert stale is not None
    fresh = leases.acquire(database, deployment_id, 60)
    assert fresh is not None and fresh != stale
    assert not leases.renew(database, deployment_id, stale, 60)
    assert leases.renew(database, deployment_id, fresh, 60)


def test_a_missing_row_cannot_be_leased(database: Database) -> None:
    assert leases.acquire(database, "no-such-deployment", 60) is None
