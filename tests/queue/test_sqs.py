"""The SQS FIFO backend against moto's SQS server on loopback (real HTTP, real boto3).

Where moto differs from AWS (checked against moto 5.2):
* moto accepts an old receipt handle for DeleteMessage/ChangeMessageVisibility; AWS FIFO
  answers "receipt handle has expired". The backend refuses a late operation itself (lease
  deadline on its clock), which is what the stale-lease tests exercise; SQS's own error codes
  are mapped too and tested with a handle SQS never issued.
* moto stores ``DeduplicationScope``/``FifoThroughputLimit`` but deduplicates per queue; the
  backend's deduplication ids are unique per queue anyway.
* visibility timeouts run on moto's real clock, so the one expiry test sleeps ~1 s; SQS's own
  redrive is driven by resetting visibility instead of waiting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from flowllama.db.session import Database
from flowllama.db.types import new_id
from flowllama.errors import InvalidInput, NotFound
from flowllama.queue import LeaseLost, Priority, QueueDepth, QueueSettings, RetryPolicy
from flowllama.queue.factory import build_queue
from flowllama.queue.sqs import SqsQueue
from flowllama.queue.sqs_setup import SqsQueueUrls, ensure_queues, queue_names

if TYPE_CHECKING:
    from .conftest import FakeClock

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

FAST_RETRY = RetryPolicy(max_attempts=3, base_s=0, max_s=0)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, and no chance of reading a real AWS profile."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def client(endpoint: str, aws_env: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)


@pytest.fixture
def urls(client: Any) -> SqsQueueUrls:
    """Fresh queues per test, so tests never see each other's messages."""
    return ensure_queues(client, f"t{new_id()[:12]}", max_receive_count=3,
                         visibility_timeout_s=30)


def make_queue(client: Any, urls: SqsQueueUrls, **kwargs: Any) -> SqsQueue:
    kwargs.setdefault("policy", FAST_RETRY)
    return SqsQueue(client, urls, lease_s=30, **kwargs)


def test_ensure_queues_makes_fifo_lanes_with_redrive(client: Any) -> None:
    name = f"t{new_id()[:12]}"
    urls = ensure_queues(client, name, max_receive_count=3, visibility_timeout_s=45)
    assert ensure_queues(client, name, max_receive_count=3, visibility_timeout_s=45) == urls
    assert ensure_queues(client, name, max_receive_count=3, visibility_timeout_s=45,
                         create=False) == urls
    assert urls.paid.endswith(queue_names(name).paid)
    dead_arn = client.get_queue_attributes(QueueUrl=urls.dead, AttributeNames=["QueueArn"]
                                           )["Attributes"]["QueueArn"]
    for lane in (urls.paid, urls.free):
        attributes = client.get_queue_attributes(QueueUrl=lane, AttributeNames=["All"]
                                                 )["Attributes"]
        assert attributes["FifoQueue"] == "true"
        assert attributes["VisibilityTimeout"] == "45"
        assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dead_arn,
                                                           "maxReceiveCount": 3}


def test_round_trip_with_user_as_message_group(client: Any, urls: SqsQueueUrls) -> None:
    queue = make_queue(client, urls)
    sent = queue.enqueue("ada", "reconcile", {"step": 1}, deployment_id="dep")
    job = queue.lease()
    assert job is not None
    assert (job.id, job.user_id, job.kind, job.payload, job.deployment_id, job.attempts) == (
        sent.id, "ada", "reconcile", {"step": 1}, "dep", 1)
    queue.ack(job)
    assert queue.lease() is None
    assert queue.depth() == QueueDepth(ready=0, delayed=0, in_flight=0, dead=0)


def test_one_in_flight_per_user_in_order(client: Any, urls: SqsQueueUrls) -> None:
    queue = make_queue(client, urls)
    a1, a2 = queue.enqueue("ada", "k").id, queue.enqueue("ada", "k").id
    b1 = queue.enqueue("bob", "k").id
    first, second = queue.lease(), queue.lease()
    assert first is not None and second is not None
    assert (first.id, second.id) == (a1, b1)
    assert queue.lease() is None  # ada's group is busy
    queue.ack(first)
    third = queue.lease()
    assert third is not None and third.id == a2


def test_paid_lane_is_polled_first(client: Any, urls: SqsQueueUrls) -> None:
    tiers = {"free-user": Priority.FREE, "paid-user": Priority.PAID}
    queue = make_queue(client, urls, priority_of=tiers.__getitem__)
    free = queue.enqueue("free-user", "k").id
    paid = queue.enqueue("paid-user", "k").id
    leased = [queue.lease(), queue.lease()]
    assert [job.id for job in leased if job] == [paid, free]


def test_fails_twice_then_succeeds(client: Any, urls: SqsQueueUrls) -> None:
    queue = make_queue(client, urls)
    job_id = queue.enqueue("ada", "k").id
    for attempt in (1, 2):
        job = queue.lease()
        assert job is not None and job.attempts == attempt
        assert not queue.retry(job, "boom").dead_lettered
    job = queue.lease()
    assert job is not None and job.id == job_id and job.attempts == 3
    queue.ack(job)
    assert queue.list_dead() == []


def test_retry_hides_the_message_for_the_backoff(client: Any, urls: SqsQueueUrls) -> None:
    queue = make_queue(client, urls, policy=RetryPolicy(max_attempts=3, base_s=2, max_s=60))
    queue.enqueue("ada", "k")
    job = queue.lease()
    assert job is not None
    outcome = queue.retry(job, "later")
    assert outcome.run_after is not None and not outcome.dead_lettered
    assert queue.lease() is None
    assert queue.depth().in_flight == 1


def test_always_failing_job_is_dead_lettered_then_requeued(client: Any,
                                                           urls: SqsQueueUrls) -> None:
    queue = make_queue(client, urls)
    job_id = queue.enqueue("ada", "k", {"x": 1}).id
    for attempt in (1, 2, 3):
        job = queue.lease()
        assert job is not None and job.attempts == attempt
        outcome = queue.retry(job, f"broken {attempt}")
    assert outcome.dead_lettered
    assert queue.lease() is None

    [dead] = queue.list_dead()
    assert (dead.id, dead.user_id, dead.payload, dead.attempts) == (job_id, "ada", {"x": 1}, 3)
    assert dead.last_error == "broken 3"
    assert queue.list_dead(user_id="bob") == []
    assert queue.depth().dead == 1

    queue.requeue_dead(job_id)
    job = queue.lease()
    assert job is not None and job.id == job_id and job.attempts == 1
    queue.ack(job)
    assert queue.list_dead() == []
    with pytest.raises(NotFound):
        queue.requeue_dead(job_id)


def test_sqs_redrive_catches_a_job_nobody_acks(client: Any, urls: SqsQueueUrls) -> None:
    """Three receives without an ack: SQS itself moves the message to the dead-letter queue."""
    queue = make_queue(client, urls)
    job_id = queue.enqueue("ada", "k").id
    for _ in range(3):
        job = queue.lease()
        assert job is not None
        handle = job.lease_token.partition(":")[2]
        client.change_message_visibility(QueueUrl=urls.free, ReceiptHandle=handle,
                                         VisibilityTimeout=0)  # as if the lease ran out
    assert queue.lease() is None
    [dead] = queue.list_dead()
    assert dead.id == job_id and "redrive" in (dead.last_error or "")


def test_expired_lease_is_delivered_again(client: Any, urls: SqsQueueUrls) -> None:
    queue = make_queue(client, urls)
    job_id = queue.enqueue("ada", "k").id
    first = queue.lease(lease_s=1)
    assert first is not None
    time.sleep(1.1)
    second = queue.lease()
    assert second is not None and second.id == job_id and second.attempts == 2
    with pytest.raises(LeaseLost):
        queue.ack(first)
    queue.ack(second)


def test_stale_or_forged_tokens_are_refused(client: Any, urls: SqsQueueUrls,
                                            clock: FakeClock) -> None:
    queue = make_queue(client, urls, clock=clock)
    queue.enqueue("ada", "k")
    job = queue.lease()
    assert job is not None
    with pytest.raises(LeaseLost):
        queue.ack(replace(job, lease_token="free:not-a-receipt-handle"))
    with pytest.raises(LeaseLost):
        queue.ack(replace(job, lease_token="nonsense"))
    clock.advance(30)
    for operation in (queue.ack, queue.extend, lambda j: queue.retry(j, "e"),
                      lambda j: queue.dead_letter(j, "e")):
        with pytest.raises(LeaseLost):
            operation(job)


def test_extend_keeps_the_lease(client: Any, urls: SqsQueueUrls) -> None:
    queue = make_queue(client, urls)
    queue.enqueue("ada", "k")
    job = queue.lease(lease_s=5)
    assert job is not None
    extended = queue.extend(job, lease_s=60)
    assert extended.lease_expires_at > job.lease_expires_at
    queue.ack(extended)


def test_dedup_key_sends_one_message(client: Any, urls: SqsQueueUrls) -> None:
    queue = make_queue(client, urls)
    first = queue.enqueue("ada", "reconcile", dedup_key="deployment:1")
    again = queue.enqueue("ada", "reconcile", dedup_key="deployment:1")
    assert again.id == first.id
    assert queue.enqueue("bob", "reconcile", dedup_key="deployment:1").id != first.id
    leased = [queue.lease() for _ in range(3)]
    assert sorted(job.user_id for job in leased if job) == ["ada", "bob"]


def test_delay_is_refused(client: Any, urls: SqsQueueUrls) -> None:
    with pytest.raises(InvalidInput) as refused:
        make_queue(client, urls).enqueue("ada", "k", delay_s=5)
    assert refused.value.field == "delay_s"


def test_build_queue_picks_sqs_and_reads_tiers(endpoint: str, aws_env: None,
                                               database: Database) -> None:
    from flowllama.db.tables import User

    with database.session() as session:
        session.add(User(id="p" * 32, email="p@example.com", password_hash="x", tier="paid"))
    settings = QueueSettings.model_validate(
        {"backend": "sqs", "sqs": {"name": f"t{new_id()[:12]}", "endpoint_url": endpoint}})
    queue = build_queue(settings, database)
    assert isinstance(queue, SqsQueue)
    queue.enqueue("p" * 32, "k")
    job = queue.lease()
    assert job is not None and job.priority == Priority.PAID
    queue.ack(job)
