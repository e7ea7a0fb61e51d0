"""Limits shared through the database: two limiter+sync pairs ("gateway processes") on one
database hold a key to its limit plus the documented slack, a failed sync keeps its counts, a
concurrent insert adds instead of failing, and old minutes are pruned."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, select

from flowllama.db.session import Database
from flowllama.db.tables import ApiKey, RateCount
from flowllama.errors import RateLimited
from flowllama.gateway import limit_sync
from flowllama.gateway.keys import KeyInfo
from flowllama.gateway.limit_sync import PRUNE_AFTER_MINUTES, LimitSync
from flowllama.gateway.limits import RateLimiter, minute_of
from gateway.conftest import make_owner

START = 1_800_000_000.0  # 2027-01-15 08:00 UTC, the start of a minute


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Process:
    """One gateway process's limiter and sync."""

    limiter: RateLimiter
    sync: LimitSync

    def serve(self, key: KeyInfo, tries: int, tokens: int = 0) -> int:
        """Try ``tries`` requests (each answered with ``tokens``); returns how many got in."""
        admitted = 0
        for _ in range(tries):
            try:
                self.limiter.admit(key)
            except RateLimited:
                continue
            self.limiter.spend(key, tokens)
            admitted += 1
        return admitted


def _processes(database: Database, clock: Clock, count: int = 2) -> list[Process]:
    processes = []
    for _ in range(count):
        limiter = RateLimiter(clock)
        processes.append(Process(limiter, LimitSync(limiter, database, interval_s=1.0)))
    return processes


def _key(database: Database, **limits: int) -> KeyInfo:
    owner = make_owner(database, "ada@example.com", **limits)
    return KeyInfo(id=owner.key_id, user_id=owner.user.id, key_hash="h", models=None,
                   rpm=limits.get("rpm"), tpm=limits.get("tpm"), monthly_token_budget=None,
                   expires_at=None, revoked=False)


def _sync_all(processes: list[Process]) -> None:
    async def run() -> None:
        for process in processes:
            assert await process.sync.sync_now()
    asyncio.run(run())


def _rows(database: Database) -> dict[tuple[str, int], int]:
    with database.session() as session:
        return {(r.kind, r.minute): r.count for r in session.scalars(select(RateCount))}


def _retry_after(process: Process, key: KeyInfo) -> int:
    with pytest.raises(RateLimited) as caught:
        process.limiter.admit(key)
    assert caught.value.code == "rate_limit_exceeded"
    return caught.value.retry_after


def test_two_processes_share_rpm_within_one_interval_of_slack(database: Database) -> None:
    clock = Clock(START + 5)
    key = _key(database, rpm=10)
    processes = _processes(database, clock)
    per_interval = 3  # requests each process receives between two syncs
    admitted = 0
    for _ in range(6):  # six sync intervals, all within one minute
        admitted += sum(p.serve(key, per_interval) for p in processes)
        _sync_all(processes)
    # Alone each process would have let 10 through (20 in all). Shared: the limit plus what
    # the other process served that this one had not read yet, at most two intervals of it.
    assert 10 <= admitted <= 10 + 2 * per_interval
    assert _rows(database) == {("requests", minute_of(clock.now)): admitted}
    waits = [_retry_after(p, key) for p in processes]
    assert all(1 <= wait <= 120 for wait in waits)
    clock.now += max(waits)
    assert processes[0].serve(key, 1) == 1


def test_two_processes_share_tpm(database: Database) -> None:
    clock = Clock(START + 5)
    key = _key(database, tpm=1000)
    processes = _processes(database, clock)
    spent = 0
    for _ in range(10):
        spent += 100 * sum(p.serve(key, 2, tokens=100) for p in processes)
        _sync_all(processes)
    # The limit, two intervals of the other process's tokens, and the answer that crossed it.
    assert 1000 <= spent <= 1000 + 2 * 200 + 100
    assert _rows(database) == {("tokens", minute_of(clock.now)): spent}
    waits = [_retry_after(p, key) for p in processes]
    assert all(60 <= wait <= 120 for wait in waits)  # all of it this minute: wait for the next
    clock.now += max(waits)
    assert processes[1].serve(key, 1, tokens=100) == 1


def test_a_new_process_starts_from_the_shared_count(database: Database) -> None:
    clock = Clock(START + 5)
    key = _key(database, rpm=4)
    old, new = _processes(database, clock)
    assert old.serve(key, 4) == 4
    _sync_all([old])
    assert new.serve(key, 1) == 1  # it has not read the totals yet: the documented slack
    _sync_all([new])
    assert new.serve(key, 1) == 0


def test_a_failed_sync_keeps_its_counts_for_the_next_one(database: Database) -> None:
    clock = Clock(START + 5)
    key = _key(database, rpm=10, tpm=1000)
    limiter = RateLimiter(clock)
    broken = Database("sqlite:////nonexistent-dir/x.db")
    limiter.admit(key)
    limiter.spend(key, 40)

    async def run() -> None:
        assert not await LimitSync(limiter, broken, interval_s=1.0).sync_now()
        assert await LimitSync(limiter, database, interval_s=1.0).sync_now()

    asyncio.run(run())
    broken.dispose()
    minute = minute_of(clock.now)
    assert _rows(database) == {("requests", minute): 1, ("tokens", minute): 40}
    assert limiter.pending().counts == {}


def test_a_row_inserted_by_another_gateway_meanwhile_is_added_to(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(START + 5)
    key = _key(database, rpm=10)
    first, second = _processes(database, clock)
    first.serve(key, 2)
    second.serve(key, 3)
    _sync_all([first])
    # The second looks for rows before the first inserted them, then its insert collides.
    monkeypatch.setattr(limit_sync, "_existing", lambda session, counts: set())
    _sync_all([second])
    assert _rows(database) == {("requests", minute_of(clock.now)): 5}


def test_counts_of_a_deleted_key_are_dropped_without_failing(database: Database) -> None:
    clock = Clock(START + 5)
    key = _key(database, rpm=10)
    process = _processes(database, clock, count=1)[0]
    process.serve(key, 1)
    _sync_all([process])
    process.serve(key, 1)
    with database.session() as session:
        session.execute(delete(ApiKey).where(ApiKey.id == key.id))
    assert _rows(database) == {}  # its rows went with it
    _sync_all([process])
    assert _rows(database) == {}


def test_old_minutes_are_pruned_once_a_minute(database: Database) -> None:
    clock = Clock(START + 5)
    key = _key(database, rpm=100)
    process = _processes(database, clock, count=1)[0]
    minute = minute_of(clock.now)
    stale, kept = minute - PRUNE_AFTER_MINUTES - 1, minute - PRUNE_AFTER_MINUTES

    def add_rows(*minutes: int) -> None:
        with database.session() as session:
            session.add_all(RateCount(api_key_id=key.id, kind="requests", minute=m, count=7)
                            for m in minutes)

    add_rows(stale, kept)
    process.serve(key, 1)
    _sync_all([process])
    assert _rows(database) == {("requests", kept): 7, ("requests", minute): 1}
    add_rows(stale)
    process.serve(key, 1)
    _sync_all([process])  # same minute: no second prune
    assert ("requests", stale) in _rows(database)
    clock.now += 60
    process.serve(key, 1)
    _sync_all([process])
    assert set(_rows(database)) == {("requests", minute), ("requests", minute + 1)}


def test_idle_sync_touches_no_database_and_stop_syncs_the_last_counts(
        database: Database) -> None:
    clock = Clock(START + 5)
    key = _key(database, rpm=10)
    limiter = RateLimiter(clock)
    broken = Database("sqlite:////nonexistent-dir/x.db")

    async def run() -> None:
        assert await LimitSync(limiter, broken, interval_s=1.0).sync_now()  # nothing to do
        sync = LimitSync(limiter, database, interval_s=3600)
        sync.start()
        limiter.admit(key)
        await sync.stop()

    asyncio.run(run())
    broken.dispose()
    assert _rows(database) == {("requests", minute_of(clock.now)): 1}
