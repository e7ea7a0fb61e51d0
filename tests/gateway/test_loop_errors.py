"""The gateway's database loops (usage flusher, limit sync) against a database that fails:
the public ``/ready`` names the loop and its error's class only, never the text (a database
error's text can carry SQL, parameters and host names); operators (the metrics listener's
``/ready``, the log) get the database's own message; and what the loop kept through the
failures is written once the database answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from flowllama.db.session import Database
from flowllama.db.tables import RateCount, UsageDaily
from flowllama.gateway.keys import KeyInfo
from flowllama.gateway.limit_sync import LimitSync
from flowllama.gateway.limits import RateLimiter
from flowllama.gateway.metering import UsageFlusher, UsageMeter
from flowllama.loops import Backoff, LoopHealth
from flowllama.loops.periodic import Periodic
from flowllama.loops.readiness import readiness
from gateway.conftest import add_deployment, make_owner


@dataclass
class Case:
    loop: Periodic
    written: Callable[[Database], bool]  # what the loop kept reached the database


def _count(database: Database, table: type[UsageDaily] | type[RateCount]) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _flusher(database: Database, broken: Database, loops: LoopHealth) -> Case:
    owner = make_owner(database, "ada@example.com")
    deployment = add_deployment(database, owner, "bot", "m", [])
    meter = UsageMeter()
    meter.record(user_id=owner.user.id, api_key_id=owner.key_id, deployment_id=deployment.id,
                 model="m", prompt_tokens=10, completion_tokens=5)
    return Case(UsageFlusher(meter, broken, interval_s=0.01, loops=loops),
                lambda db: _count(db, UsageDaily) == 1)


def _limit_sync(database: Database, broken: Database, loops: LoopHealth) -> Case:
    owner = make_owner(database, "ada@example.com", rpm=10)
    limiter = RateLimiter()
    limiter.admit(KeyInfo(id=owner.key_id, user_id=owner.user.id, key_hash="h", models=None,
                          rpm=10, tpm=None, monthly_token_budget=None, expires_at=None,
                          revoked=False))
    return Case(LimitSync(limiter, broken, interval_s=0.01, loops=loops),
                lambda db: _count(db, RateCount) == 1)


@pytest.mark.parametrize("make", [_flusher, _limit_sync])
def test_a_failing_database_loop_shows_its_error_class_publicly_and_its_text_to_operators(
        database: Database, make: Callable[[Database, Database, LoopHealth], Case]) -> None:
    broken = Database("sqlite:////nonexistent-dir/x.db")
    loops = LoopHealth(Backoff(base_s=0.01, max_s=0.01), stale_after_s=0)
    case = make(database, broken, loops)
    name = case.loop.name

    async def run() -> tuple[str, str]:
        case.loop.start()
        while name not in loops.problems():
            await asyncio.sleep(0.01)
        public = json.dumps(readiness(database, loops, detail=False)[1])
        operators = json.dumps(readiness(database, loops, detail=True)[1])
        case.loop.db = database  # type: ignore[attr-defined]  # the final round of stop()
        await case.loop.stop()
        return public, operators

    public, operators = asyncio.run(asyncio.wait_for(run(), 20))
    broken.dispose()
    assert name in public and "OperationalError" in public, public
    assert "unable to open database file" not in public and "nonexistent" not in public
    assert "OperationalError: (sqlite3.OperationalError) unable to open database file" \
        in operators, operators
    assert case.written(database)  # kept through the failures, then written
