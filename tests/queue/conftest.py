"""Fixtures for the queue tests: a movable clock, users of each tier, a database queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from flowllama.db.session import Database
from flowllama.db.tables import User
from flowllama.db.types import new_id
from flowllama.queue import DatabaseQueue, RetryPolicy

MakeUser = Callable[..., str]


class FakeClock:
    """A clock that only moves when told to, so backoff and lease expiry need no sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def make_user(database: Database) -> MakeUser:
    """Insert a user of the given tier and return its id."""

    def make(tier: str = "free") -> str:
        user_id = new_id()
        with database.session() as session:
            session.add(User(id=user_id, email=f"{user_id}@example.com", password_hash="x",
                             tier=tier))
        return user_id

    return make


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_s=2.0, max_s=60.0)


@pytest.fixture
def queue(database: Database, clock: FakeClock, policy: RetryPolicy) -> DatabaseQueue:
    return DatabaseQueue(database, policy=policy, lease_s=30, clock=clock)
