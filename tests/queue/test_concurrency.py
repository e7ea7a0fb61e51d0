"""The database queue under four concurrent worker threads, on SQLite and PostgreSQL.

Workers log each step into one shared, ordered log: ``lease`` right after a lease returns,
``finish`` right before the ack/retry call, ``acked``/``retried`` right after it returns. A
logged holding interval (lease → finish) lies inside the real lease, so two overlapping logged
intervals of one user prove a real overlap — the checks cannot fail on scheduling noise.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import update

from flowllama.db.session import Database
from flowllama.db.tables import Job
from flowllama.db.types import new_id
from flowllama.queue import DatabaseQueue, RetryPolicy
from flowllama.queue.database import LEASE_LOCK_SPACE
from flowllama.queue.selection import claim

if TYPE_CHECKING:
    from .conftest import FakeClock, MakeUser

WORKERS = 4


@dataclass
class Workload:
    """Jobs enqueued before the workers start, and what happened to them."""

    user_of: dict[str, str] = field(default_factory=dict)
    jobs_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    events: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, queue: DatabaseQueue, user: str, count: int) -> None:
        for _ in range(count):
            job_id = queue.enqueue(user, "noop").id
            self.user_of[job_id] = user
            self.jobs_of[user].append(job_id)

    def record(self, event: str, job_id: str) -> None:
        with self.lock:
            self.events.append((event, job_id))

    def acked_count(self) -> int:
        with self.lock:
            return sum(1 for event, _ in self.events if event == "acked")


def run_workers(queue: DatabaseQueue, work: Workload, *, fail_first_try: bool = False,
                serialize_leases: bool = False, timeout_s: float = 60) -> None:
    """Four threads lease, 'work' 3 ms, then ack (or retry a first attempt) until all done."""
    total = len(work.user_of)
    lease_lock = threading.Lock()
    deadline = time.monotonic() + timeout_s

    def leasing() -> AbstractContextManager[object]:
        return lease_lock if serialize_leases else nullcontext()

    def worker() -> None:
        while work.acked_count() < total and time.monotonic() < deadline:
            with leasing():
                work.record("leasing", "")
                job = queue.lease()
                if job is not None:
                    work.record("lease", job.id)
            if job is None:
                time.sleep(0.002)
                continue
            time.sleep(0.003)
            work.record("finish", job.id)
            if fail_first_try and job.attempts == 1 and work.jobs_of[job.user_id][0] == job.id:
                queue.retry(job, "first try fails")
                work.record("retried", job.id)
            else:
                queue.ack(job)
                work.record("acked", job.id)

    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(worker) for _ in range(WORKERS)]:
            future.result()
    assert work.acked_count() == total, "workers ran out of time"


def holding_intervals(work: Workload) -> Iterator[tuple[str, list[tuple[int, int]]]]:
    """Per user, every delivery's (lease position, finish position) in the log."""
    opened: dict[str, int] = {}
    per_user: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for position, (event, job_id) in enumerate(work.events):
        if not job_id:
            continue
        if event == "lease":
            opened[job_id] = position
        elif event == "finish":
            per_user[work.user_of[job_id]].append((opened.pop(job_id), position))
    yield from per_user.items()


def assert_one_in_flight_per_user(work: Workload) -> None:
    for user, intervals in holding_intervals(work):
        intervals.sort()
        for (_, finished), (leased, _) in pairwise(intervals):
            assert finished < leased, f"user {user} had two jobs in flight at once"


def assert_fifo_per_user(work: Workload) -> None:
    acked: dict[str, list[str]] = defaultdict(list)
    for event, job_id in work.events:
        if event == "acked":
            acked[work.user_of[job_id]].append(job_id)
    assert dict(acked) == dict(work.jobs_of)


def assert_paid_before_free(work: Workload, paid_users: set[str]) -> None:
    """No free job was leased while a paid user had a job ready and none in flight.

    Valid only when leases are serialised: then each ``lease`` belongs to the ``leasing``
    logged just before it, and an ``acked`` logged before that was committed before the lease
    began. A paid user counts as ready from that moment's view of the log.
    """
    in_flight: set[str] = set()
    leased: set[str] = set()
    ready: list[str] = []
    for event, job_id in work.events:
        if event == "leasing":
            ready = [paid for paid in paid_users if paid not in in_flight
                     and any(job not in leased for job in work.jobs_of[paid])]
            continue
        user = work.user_of[job_id]
        if event == "lease":
            if user not in paid_users:
                assert not ready, f"free job leased while paid users {ready} had one ready"
            in_flight.add(user)
            leased.add(job_id)
        elif event in ("acked", "retried"):
            in_flight.discard(user)


def test_fifo_and_priority_with_four_workers(database: Database, make_user: MakeUser) -> None:
    """Leases are serialised here (work and acks still overlap) so that the log can judge
    priority; the next test runs leases concurrently too."""
    queue = DatabaseQueue(database, lease_s=30)
    work = Workload()
    free_users = [make_user("free") for _ in range(4)]
    paid_users = [make_user("paid") for _ in range(4)]
    for user in free_users + paid_users:  # free first: plain FIFO would serve them first
        work.add(queue, user, 3)

    run_workers(queue, work, serialize_leases=True)

    assert_one_in_flight_per_user(work)
    assert_fifo_per_user(work)
    assert_paid_before_free(work, set(paid_users))


def test_fifo_with_four_concurrent_leasing_workers(database: Database,
                                                   make_user: MakeUser) -> None:
    queue = DatabaseQueue(database, lease_s=30)
    work = Workload()
    for tier in ("free", "paid") * 3:
        work.add(queue, make_user(tier), 4)

    run_workers(queue, work)

    assert_one_in_flight_per_user(work)
    assert_fifo_per_user(work)


def test_one_in_flight_while_retries_back_off(database: Database, make_user: MakeUser) -> None:
    """A user's first job fails once and backs off while the next one runs; when it comes due
    again it must still wait for the running one (the race ``SKIP LOCKED`` alone loses)."""
    queue = DatabaseQueue(database, lease_s=30,
                          policy=RetryPolicy(max_attempts=3, base_s=0.004, max_s=0.004))
    work = Workload()
    for _ in range(4):
        work.add(queue, make_user(), 4)

    run_workers(queue, work, fail_first_try=True)

    assert_one_in_flight_per_user(work)


def test_a_due_job_waits_for_a_claim_in_progress(database: Database, make_user: MakeUser,
                                                 clock: FakeClock) -> None:
    """PostgreSQL: worker A is between claiming a user's second job and committing (the
    first job is backing off); worker B's clock says the first is due. B must not take it."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the interleaving cannot happen")
    queue = DatabaseQueue(database, lease_s=30, clock=clock)
    user = make_user()
    first = queue.enqueue(user, "k").id
    second = queue.enqueue(user, "k").id
    job = queue.lease()
    assert job is not None and job.id == first
    queue.retry(job, "back off 2 s")

    with database.sessions() as worker_a:  # the steps of DatabaseQueue.lease, paused
        assert queue._lock_user(worker_a, LEASE_LOCK_SPACE, user, wait=False)
        assert worker_a.execute(claim(second, clock.now)).scalar_one() is not None
        worker_a.execute(update(Job).where(Job.id == second).values(
            status="leased", lease_token=new_id(),
            lease_expires_at=clock.now + timedelta(seconds=30)))
        clock.advance(5)
        assert queue.lease() is None  # B skips the user whose lease is being taken
        worker_a.commit()
    assert queue.lease() is None  # and after A's commit B sees A's lease
