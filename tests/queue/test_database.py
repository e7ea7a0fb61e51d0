"""The database queue backend, on SQLite and PostgreSQL, with a clock moved by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from flowllama.db.session import Database
from flowllama.db.tables import Job
from flowllama.errors import Conflict, InvalidInput, NotFound
from flowllama.queue import DatabaseQueue, LeaseLost, Priority, QueueDepth, RetryPolicy
from flowllama.queue.database import DEDUP_FIELD

if TYPE_CHECKING:
    from .conftest import FakeClock, MakeUser


def test_round_trip_carries_the_job(queue: DatabaseQueue, make_user: MakeUser,
                                    clock: FakeClock) -> None:
    user = make_user("free")
    queued = queue.enqueue(user, "reconcile", {"step": 1}, dedup_key="dep-1")
    assert queued.created and queued.status == "queued"

    job = queue.lease()
    assert job is not None
    assert (job.id, job.user_id, job.kind, job.payload) == (queued.id, user, "reconcile",
                                                            {"step": 1})
    assert job.attempts == 1 and job.max_attempts == 3 and job.dedup_key == "dep-1"
    assert job.priority == Priority.FREE
    assert job.lease_expires_at == clock.now + timedelta(seconds=30)
    queue.ack(job)
    assert queue.lease() is None


def test_one_job_in_flight_per_user_in_enqueue_order(queue: DatabaseQueue,
                                                     make_user: MakeUser) -> None:
    ada, bob = make_user(), make_user()
    a1, a2 = (queue.enqueue(ada, "k").id for _ in range(2))
    b1 = queue.enqueue(bob, "k").id

    first = queue.lease()
    second = queue.lease()
    assert first is not None and second is not None
    assert {first.id, second.id} == {a1, b1}  # a2 waits: ada already has a job in flight
    assert queue.lease() is None
    queue.ack(first if first.id == a1 else second)
    third = queue.lease()
    assert third is not None and third.id == a2


def test_paid_jobs_are_delivered_before_free_ones(queue: DatabaseQueue,
                                                  make_user: MakeUser) -> None:
    free, paid = make_user("free"), make_user("paid")
    free_job = queue.enqueue(free, "k").id
    paid_job = queue.enqueue(paid, "k").id
    explicit = queue.enqueue(free, "k", priority=Priority.PAID + 5)  # explicit beats the tier

    order = [queue.lease() for _ in range(2)]
    assert [job.id for job in order if job] == [paid_job, free_job]
    assert explicit.created


def test_ordering_survives_a_clock_that_goes_back(queue: DatabaseQueue, make_user: MakeUser,
                                                  clock: FakeClock) -> None:
    """Enqueue order wins even when a second process's clock is behind the first's."""
    user = make_user()
    first = queue.enqueue(user, "k").id
    clock.advance(-10)
    second = queue.enqueue(user, "k").id
    clock.advance(20)
    leased = queue.lease()
    assert leased is not None and leased.id == first
    queue.ack(leased)
    leased = queue.lease()
    assert leased is not None and leased.id == second


def test_fails_twice_then_succeeds_with_exponential_backoff(
    queue: DatabaseQueue, make_user: MakeUser, clock: FakeClock
) -> None:
    job_id = queue.enqueue(make_user(), "k").id
    for attempt, delay in ((1, 2), (2, 4)):
        job = queue.lease()
        assert job is not None and job.attempts == attempt
        outcome = queue.retry(job, f"boom {attempt}")
        assert not outcome.dead_lettered
        assert outcome.run_after == clock.now + timedelta(seconds=delay)
        clock.advance(delay - 0.001)
        assert queue.lease() is None  # still backing off
        clock.advance(0.001)
    job = queue.lease()
    assert job is not None and job.id == job_id and job.attempts == 3
    queue.ack(job)
    assert queue.depth() == QueueDepth(ready=0, delayed=0, in_flight=0, dead=0)


def test_backoff_is_capped(database: Database, make_user: MakeUser, clock: FakeClock) -> None:
    queue = DatabaseQueue(database, policy=RetryPolicy(max_attempts=10, base_s=2, max_s=5),
                          clock=clock)
    queue.enqueue(make_user(), "k")
    delays = []
    for _ in range(4):
        job = queue.lease()
        assert job is not None
        outcome = queue.retry(job, "again")
        assert outcome.run_after is not None
        delays.append((outcome.run_after - clock.now).total_seconds())
        clock.advance(delays[-1])
    assert delays == [2, 4, 5, 5]


def test_always_failing_job_is_dead_lettered_then_requeued(
    queue: DatabaseQueue, make_user: MakeUser, clock: FakeClock
) -> None:
    user = make_user()
    job_id = queue.enqueue(user, "k", {"x": 1}).id
    outcome = None
    for attempt in range(1, 4):
        job = queue.lease()
        assert job is not None and job.attempts == attempt
        outcome = queue.retry(job, f"still broken ({attempt})")
        clock.advance(60)
    assert outcome is not None and outcome.dead_lettered and outcome.run_after is None
    assert queue.lease() is None

    [dead] = queue.list_dead()
    assert (dead.id, dead.user_id, dead.payload, dead.attempts) == (job_id, user, {"x": 1}, 3)
    assert dead.last_error == "still broken (3)"
    assert queue.list_dead(user_id=make_user()) == []
    assert queue.depth().dead == 1

    assert queue.requeue_dead(job_id).status == "queued"
    job = queue.lease()
    assert job is not None and job.id == job_id and job.attempts == 1
    with pytest.raises(NotFound):
        queue.requeue_dead(job_id)  # no longer dead


def test_dead_letter_now_keeps_the_error(queue: DatabaseQueue, make_user: MakeUser) -> None:
    job_id = queue.enqueue(make_user(), "k").id
    job = queue.lease()
    assert job is not None
    queue.dead_letter(job, "model does not exist" + "!" * 20_000)
    [dead] = queue.list_dead()
    assert dead.id == job_id and dead.last_error is not None
    assert dead.last_error.startswith("model does not exist") and len(dead.last_error) < 8_100


def test_expired_lease_is_delivered_again(queue: DatabaseQueue, make_user: MakeUser,
                                          clock: FakeClock) -> None:
    job_id = queue.enqueue(make_user(), "k").id
    first = queue.lease()
    assert first is not None
    clock.advance(29)
    assert queue.lease() is None
    assert queue.depth().in_flight == 1
    clock.advance(1)
    assert queue.depth().ready == 1
    second = queue.lease()
    assert second is not None and second.id == job_id
    assert second.attempts == 2 and second.lease_token != first.lease_token

    with pytest.raises(LeaseLost):
        queue.ack(first)  # the stale worker's result does not count
    queue.ack(second)


def test_lease_expiring_on_the_last_attempt_dead_letters(
    database: Database, make_user: MakeUser, clock: FakeClock
) -> None:
    queue = DatabaseQueue(database, lease_s=10, clock=clock)
    user = make_user()
    job_id = queue.enqueue(user, "k", max_attempts=1).id
    later = queue.enqueue(user, "k").id
    assert queue.lease() is not None
    clock.advance(10)
    next_job = queue.lease()
    assert next_job is not None and next_job.id == later
    [dead] = queue.list_dead()
    assert dead.id == job_id and "lease expired" in (dead.last_error or "")


def test_operations_with_a_stale_token_are_refused(queue: DatabaseQueue,
                                                   make_user: MakeUser) -> None:
    queue.enqueue(make_user(), "k")
    job = queue.lease()
    assert job is not None
    forged = replace(job, lease_token="0" * 32)
    for operation in (queue.ack, queue.extend, lambda j: queue.retry(j, "e"),
                      lambda j: queue.dead_letter(j, "e")):
        with pytest.raises(LeaseLost) as refused:
            operation(forged)
        assert refused.value.job_id == job.id
    queue.ack(job)
    with pytest.raises(LeaseLost):
        queue.ack(job)  # a second ack is refused: the lease ended with the first


def test_extend_pushes_the_expiry(queue: DatabaseQueue, make_user: MakeUser,
                                  clock: FakeClock) -> None:
    queue.enqueue(make_user(), "k")
    job = queue.lease()
    assert job is not None
    clock.advance(25)
    extended = queue.extend(job, lease_s=60)
    assert extended.lease_expires_at == clock.now + timedelta(seconds=60)
    clock.advance(59)
    assert queue.lease() is None
    queue.ack(extended)


def test_dedup_key_returns_the_pending_job(queue: DatabaseQueue, make_user: MakeUser,
                                           clock: FakeClock) -> None:
    ada, bob = make_user(), make_user()
    first = queue.enqueue(ada, "reconcile", dedup_key="deployment:1")
    again = queue.enqueue(ada, "reconcile", dedup_key="deployment:1")
    assert (again.id, again.created) == (first.id, False)
    clock.advance(1)
    assert queue.enqueue(bob, "reconcile", dedup_key="deployment:1").created  # per user

    job = queue.lease()
    assert job is not None and job.id == first.id
    while_leased = queue.enqueue(ada, "reconcile", dedup_key="deployment:1")
    assert (while_leased.id, while_leased.status) == (first.id, "leased")
    queue.ack(job)
    assert queue.enqueue(ada, "reconcile", dedup_key="deployment:1").created


def test_a_due_duplicate_brings_a_waiting_job_forward(queue: DatabaseQueue,
                                                       make_user: MakeUser) -> None:
    ada = make_user()
    delayed = queue.enqueue(ada, "reconcile", dedup_key="deployment:1", delay_s=600)
    assert queue.lease() is None  # waiting out its delay
    later = queue.enqueue(ada, "reconcile", dedup_key="deployment:1", delay_s=900)
    assert later.id == delayed.id and queue.lease() is None  # a later start moves nothing
    now = queue.enqueue(ada, "reconcile", dedup_key="deployment:1")
    assert (now.id, now.created) == (delayed.id, False)
    job = queue.lease()
    assert job is not None and job.id == delayed.id


def test_a_due_duplicate_cuts_a_retry_backoff_short(queue: DatabaseQueue,
                                                    make_user: MakeUser) -> None:
    ada = make_user()
    queue.enqueue(ada, "reconcile", dedup_key="deployment:1")
    job = queue.lease()
    assert job is not None
    queue.retry(job, "heal backoff")
    assert queue.lease() is None
    queue.enqueue(ada, "reconcile", dedup_key="deployment:1")  # e.g. the user deletes it
    again = queue.lease()
    assert again is not None and again.id == job.id


def test_requeue_refuses_a_second_pending_job_with_the_same_key(
    queue: DatabaseQueue, make_user: MakeUser
) -> None:
    user = make_user()
    dead_id = queue.enqueue(user, "k", dedup_key="d").id
    job = queue.lease()
    assert job is not None
    queue.dead_letter(job, "gave up")
    queue.enqueue(user, "k", dedup_key="d")
    with pytest.raises(Conflict):
        queue.requeue_dead(dead_id)


def test_a_job_backing_off_does_not_hold_back_later_ones(
    queue: DatabaseQueue, make_user: MakeUser, clock: FakeClock
) -> None:
    user = make_user()
    first = queue.enqueue(user, "k").id
    second = queue.enqueue(user, "k").id
    job = queue.lease()
    assert job is not None and job.id == first
    queue.retry(job, "later")
    other = queue.lease()
    assert other is not None and other.id == second
    clock.advance(5)  # the first is due again, but its user has a job in flight
    assert queue.lease() is None
    queue.ack(other)
    again = queue.lease()
    assert again is not None and again.id == first


def test_delay_and_depth(queue: DatabaseQueue, make_user: MakeUser, clock: FakeClock) -> None:
    queue.enqueue(make_user(), "k", delay_s=10)
    queue.enqueue(make_user(), "k")
    assert queue.depth() == QueueDepth(ready=1, delayed=1, in_flight=0, dead=0)
    assert queue.lease() is not None
    assert queue.lease() is None
    clock.advance(10)
    assert queue.depth() == QueueDepth(ready=1, delayed=0, in_flight=1, dead=0)
    assert queue.lease() is not None


def test_bad_input_is_refused_clearly(queue: DatabaseQueue, make_user: MakeUser,
                                      database: Database) -> None:
    with pytest.raises(NotFound):
        queue.enqueue("no-such-user", "k")
    with pytest.raises(InvalidInput) as reserved:
        queue.enqueue(make_user(), "k", {DEDUP_FIELD: "x"})
    assert reserved.value.field == "payload"
    with pytest.raises(InvalidInput):
        queue.enqueue(make_user(), "k", dedup_key="")
    with pytest.raises(NotFound):
        queue.requeue_dead("missing")
    with database.session() as session:
        assert session.query(Job).count() == 0
