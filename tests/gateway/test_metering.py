"""Usage batching: one row per (day, owner, key, deployment, model) however many requests and
flushes, several meters (gateways) adding to the same rows, nothing lost when a write fails."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import ApiKey, UsageDaily
from flowllama.gateway.metering import UsageFlusher, UsageMeter
from gateway.conftest import Owner, add_deployment, make_owner


def _record(meter: UsageMeter, owner: Owner, deployment_id: str, prompt: int = 10,
            completion: int = 5) -> None:
    meter.record(user_id=owner.user.id, api_key_id=owner.key_id, deployment_id=deployment_id,
                 model="m", prompt_tokens=prompt, completion_tokens=completion)


def _rows(database: Database) -> list[tuple[int, int, int]]:
    with database.session() as session:
        return [(r.requests, r.prompt_tokens, r.completion_tokens)
                for r in session.scalars(select(UsageDaily).order_by(UsageDaily.id))]


def test_batches_add_to_one_row_per_bucket_from_several_gateways(database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    deployment = add_deployment(database, owner, "bot", "m", [])
    first, second = UsageMeter(), UsageMeter()
    for _ in range(3):
        _record(first, owner, deployment.id)
    _record(second, owner, deployment.id, prompt=1, completion=1)
    first.take().write(database)
    second.take().write(database)
    _record(first, owner, deployment.id)
    first.take().write(database)
    assert _rows(database) == [(5, 41, 21)]
    first.take().write(database)  # nothing new: no change
    assert _rows(database) == [(5, 41, 21)]


def test_days_are_separate_buckets(database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    deployment = add_deployment(database, owner, "bot", "m", [])
    day = [datetime(2026, 1, 1, 23, 59, tzinfo=UTC)]
    meter = UsageMeter(clock=lambda: day[0])
    _record(meter, owner, deployment.id)
    day[0] = datetime(2026, 1, 2, 0, 1, tzinfo=UTC)
    _record(meter, owner, deployment.id)
    meter.take().write(database)
    assert _rows(database) == [(1, 10, 5), (1, 10, 5)]


def test_flusher_writes_usage_and_last_use_and_keeps_counts_when_a_write_fails(
        database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    deployment = add_deployment(database, owner, "bot", "m", [])
    meter = UsageMeter()

    async def scenario() -> None:
        broken = Database("sqlite:////nonexistent-dir/x.db")
        failing = UsageFlusher(meter, broken, interval_s=60)
        meter.touch(owner.key_id)
        _record(meter, owner, deployment.id)
        await failing.flush_now()  # logged, kept
        broken.dispose()
        assert sum(c.requests for c in meter.pending().values()) == 1
        flusher = UsageFlusher(meter, database, interval_s=0.05)
        flusher.start()
        await asyncio.sleep(0.3)
        _record(meter, owner, deployment.id)
        await flusher.stop()  # flushes what is left

    asyncio.run(scenario())
    assert _rows(database) == [(2, 20, 10)]
    with database.session() as session:
        key = session.get(ApiKey, owner.key_id)
        assert key is not None and key.last_used_at is not None
