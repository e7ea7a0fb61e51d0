"""One tenant's receiver that never answers must not hold up anyone else's deliveries: the
dispatcher limits attempts in flight per receiver and per tenant, never waits for a batch, and
does not read the rows of busy tenants or of full receivers (a receiver shared by many tenants
cannot fill every batch with rows that would only be skipped). The good delivery must arrive
within seconds, not after the slow receiver's timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import WebhookDelivery
from flowllama.db.types import utcnow
from flowllama.settings import WebhookSettings
from flowllama.webhooks.dispatcher import WebhookDispatcher
from flowllama.webhooks.fairness import InFlight, receiver_of


class Silent:
    """Accepts connections and never answers (nor reads): the worst receiver there is."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port: int = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self.connections.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.close()


def test_in_flight_limits_per_receiver_tenant_and_total() -> None:
    slots = InFlight(limit=2, total=3)
    assert slots.acquire("a:80", "t1") and slots.acquire("a:80", "t2")
    assert not slots.acquire("a:80", "t3")  # receiver a is full
    assert slots.acquire("b:80", "t1")
    assert slots.busy_tenants() == {"t1"} and slots.free() == 0
    assert not slots.acquire("c:80", "t4")  # every thread is taken
    slots.release("a:80", "t1")
    assert slots.acquire("c:80", "t4") and slots.busy_tenants() == set()
    assert receiver_of("http://Hooks.Example.com:8080/x") == "hooks.example.com:8080"


GOOD_WITHIN_S = 3.0  # the slow receiver's timeout is 60 s: waiting on it is far slower


def _run_until_good_arrives(database: Database, settings: WebhookSettings, receiver: Any,
                            silent: Silent, good_id: str) -> tuple[float, list[str]]:
    """Run a dispatcher until the good delivery arrives (or ``GOOD_WITHIN_S`` passed); returns
    how long it took and the statuses of the other deliveries."""
    dispatcher = WebhookDispatcher(database, settings)
    started = time.monotonic()
    dispatcher.start()
    try:
        while not receiver.requests and time.monotonic() - started < GOOD_WITHIN_S:
            time.sleep(0.02)
        took = time.monotonic() - started
        with database.session() as session:
            slow = list(session.scalars(select(WebhookDelivery.status).where(
                WebhookDelivery.webhook_id != good_id)).all())
    finally:
        silent.close()  # the hanging attempts end now, not after their timeout
        dispatcher.stop()
    return took, slow


def test_a_never_answering_receiver_does_not_delay_another_tenant(
        database: Database, rows: Any, receiver: Any, silent: Silent) -> None:
    slow_tenant, good_tenant = rows.user("slow@example.com"), rows.user("good@example.com")
    earlier = utcnow() - timedelta(seconds=30)
    with database.session() as session:  # the slow tenant's 25 deliveries come first
        for number in range(25):
            hook = rows.webhook(slow_tenant, f"http://127.0.0.1:{silent.port}/h{number}",
                                ["deployment.running"])
            session.add(WebhookDelivery(webhook_id=hook.id, event="deployment.running",
                                        payload={"n": number}, next_attempt_at=earlier))
    good = rows.webhook(good_tenant, receiver.url, ["deployment.running"])
    with database.session() as session:
        session.add(WebhookDelivery(webhook_id=good.id, event="deployment.running",
                                    payload={"good": True}, next_attempt_at=utcnow()))
    settings = WebhookSettings(allow_hosts=["127.0.0.1"], poll_s=0.05, timeout_s=60,
                               allow_ports=[silent.port, receiver.port])
    took, slow = _run_until_good_arrives(database, settings, receiver, silent, good.id)
    assert len(receiver.requests) == 1, f"the good tenant's delivery arrived ({took:.1f} s)"
    assert took < GOOD_WITHIN_S
    assert "delivered" not in slow  # the slow receiver never answered anything...
    assert sum(status == "sending" for status in slow) <= settings.receiver_concurrency


def test_a_never_answering_receiver_shared_by_many_tenants_does_not_fill_the_batches(
        database: Database, rows: Any, receiver: Any, silent: Silent) -> None:
    """25 tenants, one webhook each, all at the same silent receiver and all due first: no
    tenant is busy, but the receiver is full after two, and its other rows must not take
    every batch (batch_size 5) so that the good delivery is never read."""
    earlier = utcnow() - timedelta(seconds=30)
    with database.session() as session:
        for number in range(25):
            tenant = rows.user(f"shared{number}@example.com")
            hook = rows.webhook(tenant, f"http://127.0.0.1:{silent.port}/h{number}",
                                ["deployment.running"])
            session.add(WebhookDelivery(webhook_id=hook.id, event="deployment.running",
                                        payload={"n": number}, next_attempt_at=earlier))
    good = rows.webhook(rows.user("good@example.com"), receiver.url, ["deployment.running"])
    with database.session() as session:
        session.add(WebhookDelivery(webhook_id=good.id, event="deployment.running",
                                    payload={"good": True}, next_attempt_at=utcnow()))
    settings = WebhookSettings(allow_hosts=["127.0.0.1"], poll_s=0.05, timeout_s=60,
                               batch_size=5, allow_ports=[silent.port, receiver.port])
    took, slow = _run_until_good_arrives(database, settings, receiver, silent, good.id)
    assert len(receiver.requests) == 1, f"the good tenant's delivery arrived ({took:.1f} s)"
    assert took < GOOD_WITHIN_S
    assert "delivered" not in slow
    assert sum(status == "sending" for status in slow) <= settings.receiver_concurrency


def test_the_webhooks_left_out_for_a_full_receiver_are_bounded(
        database: Database, rows: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A receiver shared by many tenants stays full: the webhooks left out of the claim query
    for it (a ``NOT IN`` list) stop growing at ``MAX_PARKED``, round after round; once the
    receiver has room again its rows are read and claimed."""
    from flowllama.webhooks import dispatcher as dispatcher_module

    monkeypatch.setattr(dispatcher_module, "MAX_PARKED", 3)
    url = "https://hooks.example.com/shared"
    earlier = utcnow() - timedelta(seconds=30)
    with database.session() as session:
        for number in range(12):
            hook = rows.webhook(rows.user(f"t{number}@example.com"), f"{url}/{number}",
                                ["deployment.running"])
            session.add(WebhookDelivery(webhook_id=hook.id, event="deployment.running",
                                        payload={"n": number}, next_attempt_at=earlier))
    settings = WebhookSettings(batch_size=2)
    dispatcher = WebhookDispatcher(database, settings)
    receiver = receiver_of(url)
    try:
        for _ in range(settings.receiver_concurrency):  # sends of other dispatch rounds
            assert dispatcher.in_flight.acquire(receiver, "someone-else")
        for _round in range(5):
            assert dispatcher.claim() == []
            assert 0 < len(dispatcher._parked) <= 3
        dispatcher.in_flight.release(receiver, "someone-else")
        claimed = dispatcher.claim()
        assert len(claimed) == 1 and claimed[0].receiver == receiver
        assert len(dispatcher._parked) <= 3  # full again: parked afresh, within the cap
    finally:
        dispatcher.stop()
