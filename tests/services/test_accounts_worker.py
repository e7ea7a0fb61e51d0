"""The api role's accounts worker: one round sends queued mail and purges old counters; the
loop is reported on ``/ready`` and survives a database outage."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import ThrottleCounter
from flowllama.db.types import utcnow
from flowllama.loops import Backoff, LoopHealth
from flowllama.metrics import REGISTRY
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
    worker.round()
    assert len(list(tmp_path.glob("*.eml"))) == 1
    with database.session() as session:
        assert session.scalars(select(ThrottleCounter.subject)).all() == ["new"]


def test_the_loop_is_on_ready_fails_with_the_cause_and_resumes(database: Database,
                                                               tmp_path: Path) -> None:
    """The worker is a loop of the process: while its database is away ``/ready`` names it
    with the real error, and once the database answers it succeeds again by itself."""
    loops = LoopHealth(Backoff(base_s=0.01, max_s=0.02), stale_after_s=0)
    broken = Database("sqlite:////nonexistent-dir/x.db")
    worker = AccountsWorker(broken, OutboxMailer(tmp_path, "x@example.com"),
                            ResetLinks(3600, "http://t"), interval_s=0.01,
                            keep_counters_s=3600, loops=loops)

    async def scenario() -> tuple[dict[str, str], dict[str, str], float | None]:
        worker.start()
        while "accounts" not in loops.problems():
            await asyncio.sleep(0.01)
        failing = loops.problems()
        worker.db = database  # the database is back
        while loops.problems():
            await asyncio.sleep(0.01)
        [beat] = loops.beats()
        await worker.stop()
        return failing, loops.problems(), beat.last_success_at

    started = time.time()
    failing, after, last_success = asyncio.run(asyncio.wait_for(scenario(), 20))
    broken.dispose()
    assert "OperationalError" in failing["accounts"]
    assert after == {} and loops.beats() == []  # stopped on purpose: retired
    assert last_success is not None and last_success >= started
    sample = REGISTRY.get_sample_value("flowllama_loop_last_success_timestamp_seconds",
                                       {"loop": "accounts"})
    assert sample is not None and sample >= started
