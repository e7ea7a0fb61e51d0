"""The dispatcher: signed deliveries to a real loopback server, retries, the delivery log,
SSRF at send time (rebinding, redirects), and one send per delivery across dispatchers."""

from __future__ import annotations

import ipaddress
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Webhook, WebhookDelivery
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Status
from flowllama.services.deployment_status import change_status_and_notify
from flowllama.settings import WebhookSettings
from flowllama.webhooks import ssrf
from flowllama.webhooks.dispatcher import WebhookDispatcher
from flowllama.webhooks.sender import WebhookSender
from flowllama.webhooks.ssrf import AllowList, IPAddress, UrlPolicy

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def loopback(receiver: Any, *ports: int) -> WebhookSettings:
    """Settings that let deliveries reach the loopback receiver (its random port included)."""
    return WebhookSettings(allow_hosts=["127.0.0.1"], allow_ports=[receiver.port, *ports],
                           timeout_s=5, max_attempts=3, backoff_base_s=60, poll_s=0.05)


def make_running(db: Database, deployment_id: str) -> None:
    with db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        change_status_and_notify(session, row, Status.RUNNING, "server is up")


def the_delivery(db: Database) -> WebhookDelivery:
    with db.session() as session:
        [row] = session.scalars(select(WebhookDelivery)).all()
        return row


def make_due(db: Database) -> None:
    with db.session() as session:
        session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))


def test_signed_delivery_is_received_and_verifies(database: Database, rows: Any,
                                                  receiver: Any) -> None:
    user = rows.user()
    deployment = rows.deployment(user)
    hook = rows.webhook(user, receiver.url, ["deployment.running"], secret=SECRET)
    make_running(database, deployment.id)
    dispatcher = WebhookDispatcher(database, loopback(receiver))
    assert dispatcher.run_once() == 1
    [request] = receiver.requests
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert request.path == "/hook"
    assert headers["content-type"] == "application/json"
    assert headers["x-flowllama-event"] == "deployment.running"
    assert headers["webhook-signature"].startswith("v1,")
    assert StandardWebhook(SECRET).verify(request.body, headers)["id"] == headers["webhook-id"]
    with pytest.raises(WebhookVerificationError):
        StandardWebhook("whsec_" + "A" * 32).verify(request.body, headers)
    body = json.loads(request.body)
    delivery = the_delivery(database)
    assert headers["webhook-id"] == delivery.id == body["id"]
    assert body["event"] == "deployment.running"
    assert body["deployment"]["id"] == deployment.id
    assert body["deployment"]["status"] == "running"
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert delivery.response_status == 204 and delivery.webhook_id == hook.id
    assert dispatcher.run_once() == 0  # delivered once, never again


def test_failures_back_off_then_fail_with_the_log_kept(database: Database, rows: Any,
                                                       receiver: Any) -> None:
    user = rows.user()
    rows.webhook(user, receiver.url, ["deployment.running"])
    make_running(database, rows.deployment(user).id)
    receiver.answers = [(500, {}), (503, {}), (500, {})]
    dispatcher = WebhookDispatcher(database, loopback(receiver))
    before = utcnow()
    assert dispatcher.run_once() == 1
    delivery = the_delivery(database)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.response_status == 500 and delivery.error == "HTTP 500"
    assert delivery.next_attempt_at >= before + timedelta(seconds=59)
    assert dispatcher.run_once() == 0  # not due yet: backing off
    make_due(database)
    assert dispatcher.run_once() == 1
    second = the_delivery(database)
    assert second.attempts == 2
    assert second.next_attempt_at >= utcnow() + timedelta(seconds=119)  # doubled
    make_due(database)
    assert dispatcher.run_once() == 1
    final = the_delivery(database)
    assert final.status == "failed" and final.attempts == 3 and final.response_status == 500
    make_due(database)
    assert dispatcher.run_once() == 0
    assert len(receiver.requests) == 3


def test_retry_then_success(database: Database, rows: Any, receiver: Any) -> None:
    user = rows.user()
    rows.webhook(user, receiver.url, ["deployment.running"])
    make_running(database, rows.deployment(user).id)
    receiver.answers = [(502, {})]
    dispatcher = WebhookDispatcher(database, loopback(receiver))
    dispatcher.run_once()
    make_due(database)
    dispatcher.run_once()
    delivery = the_delivery(database)
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert delivery.error is None and delivery.delivered_at is not None


def test_redirect_to_a_private_address_is_not_followed(database: Database, rows: Any,
                                                       receiver: Any) -> None:
    user = rows.user()
    rows.webhook(user, receiver.url, ["deployment.running"])
    make_running(database, rows.deployment(user).id)
    # The allowed server answers with a redirect to loopback-but-elsewhere and to 10.x.
    receiver.answers = [(302, {"Location": "http://10.0.0.1/steal"})]
    WebhookDispatcher(database, loopback(receiver)).run_once()
    delivery = the_delivery(database)
    assert delivery.status == "pending" and delivery.response_status == 302
    assert "redirects are not followed" in (delivery.error or "")
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_redirect_back_to_loopback_is_not_followed_either(database: Database, rows: Any,
                                                          receiver: Any) -> None:
    user = rows.user()
    rows.webhook(user, receiver.url, ["deployment.running"])
    make_running(database, rows.deployment(user).id)
    receiver.answers = [(307, {"Location": f"http://127.0.0.1:{receiver.port}/internal"})]
    WebhookDispatcher(database, loopback(receiver)).run_once()
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_dns_rebinding_is_refused_at_send_time(database: Database, rows: Any, receiver: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered while the name was public; by send time it points at loopback."""
    user = rows.user()
    rows.webhook(user, f"http://rebind.example.com:{receiver.port}/hook", ["deployment.running"])
    make_running(database, rows.deployment(user).id)

    def rebound(_host: str, _port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(ssrf, "system_resolver", rebound)
    WebhookDispatcher(database, WebhookSettings(timeout_s=5, allow_ports=[receiver.port])
                      ).run_once()
    delivery = the_delivery(database)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert (delivery.error or "").startswith("refused:") and "loopback" in (delivery.error or "")
    assert receiver.requests == []


def test_connects_to_the_checked_address_with_the_original_host(
        database: Database, rows: Any, receiver: Any) -> None:
    """The name is resolved once, by the policy; httpx never looks it up again (the name
    does not exist in real DNS) and the server still sees the original Host header."""
    user = rows.user()
    rows.webhook(user, f"http://hooks.invalid:{receiver.port}/hook", ["deployment.running"])
    make_running(database, rows.deployment(user).id)
    lookups: list[str] = []

    def resolve(host: str, _port: int) -> list[IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    sender = WebhookSender(UrlPolicy(AllowList(["127.0.0.1"]), resolver=resolve, ports=None),
                           timeout_s=5)
    WebhookDispatcher(database, loopback(receiver), sender=sender).run_once()
    assert the_delivery(database).status == "delivered"
    assert lookups == ["hooks.invalid"]
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.invalid:{receiver.port}"


def test_unreachable_receiver_is_retried_with_the_error(database: Database, rows: Any,
                                                        receiver: Any) -> None:
    user = rows.user()
    rows.webhook(user, "http://127.0.0.1:9/hook", ["deployment.running"])  # discard port
    make_running(database, rows.deployment(user).id)
    WebhookDispatcher(database, loopback(receiver, 9)).run_once()
    delivery = the_delivery(database)
    assert delivery.status == "pending" and delivery.response_status is None
    assert "ConnectError" in (delivery.error or "")


def test_concurrent_dispatchers_send_each_delivery_once(database: Database, rows: Any,
                                                        receiver: Any) -> None:
    user = rows.user()
    rows.webhook(user, receiver.url, ["deployment.running", "deployment.unhealthy"])
    for number in range(6):
        deployment = rows.deployment(user, name=f"d{number}")
        make_running(database, deployment.id)
        with database.session() as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None
            change_status_and_notify(session, row, Status.UNHEALTHY, "probe failed")
    dispatchers = [WebhookDispatcher(database, loopback(receiver)) for _ in range(4)]
    barrier = threading.Barrier(len(dispatchers))
    claimed: list[int] = []

    def work(dispatcher: WebhookDispatcher) -> None:
        barrier.wait()
        claimed.append(dispatcher.run_once())

    threads = [threading.Thread(target=work, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(claimed) == 12
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 12
    with database.session() as session:
        statuses = set(session.scalars(select(WebhookDelivery.status)).all())
    assert statuses == {"delivered"}


def test_a_stale_claim_is_taken_over_and_cannot_overwrite(database: Database, rows: Any,
                                                          receiver: Any) -> None:
    user = rows.user()
    rows.webhook(user, receiver.url, ["deployment.running"])
    make_running(database, rows.deployment(user).id)
    crashed = WebhookDispatcher(database, loopback(receiver))
    [stale] = crashed.claim()  # claimed, then its dispatcher "died" before sending
    make_due(database)  # the claim expires
    survivor = WebhookDispatcher(database, loopback(receiver))
    assert survivor.run_once() == 1
    from flowllama.webhooks.sender import SendResult

    crashed.record(stale, SendResult(status_code=500, error="HTTP 500"))  # too late: ignored
    delivery = the_delivery(database)
    assert delivery.status == "delivered" and delivery.attempts == 2


def test_thread_start_and_stop(database: Database, rows: Any, receiver: Any) -> None:
    user = rows.user()
    rows.webhook(user, receiver.url, ["deployment.running"])
    dispatcher = WebhookDispatcher(database, loopback(receiver))
    dispatcher.start()
    try:
        make_running(database, rows.deployment(user).id)
        deadline = utcnow() + timedelta(seconds=10)
        while the_delivery(database).status != "delivered" and utcnow() < deadline:
            threading.Event().wait(0.05)
    finally:
        dispatcher.stop()
    assert the_delivery(database).status == "delivered"


def test_during_a_rotation_both_secrets_sign_and_after_it_only_the_new(
        database: Database, rows: Any, receiver: Any) -> None:
    old, new = SECRET, "whsec_" + "B" * 43 + "="
    user = rows.user()
    hook = rows.webhook(user, receiver.url, ["deployment.running", "deployment.unhealthy"],
                        secret=new)
    with database.session() as session:
        session.execute(update(Webhook).where(Webhook.id == hook.id).values(
            previous_secret=old, previous_secret_expires_at=utcnow() + timedelta(hours=1)))
    deployment = rows.deployment(user)
    make_running(database, deployment.id)
    dispatcher = WebhookDispatcher(database, loopback(receiver))
    assert dispatcher.run_once() == 1
    with database.session() as session:  # the overlap is over
        session.execute(update(Webhook).where(Webhook.id == hook.id).values(
            previous_secret_expires_at=utcnow() - timedelta(seconds=1)))
        row = session.get(Deployment, deployment.id)
        assert row is not None
        change_status_and_notify(session, row, Status.UNHEALTHY, "probe failed")
    assert dispatcher.run_once() == 1
    during, after = receiver.requests
    during_headers = {k.lower(): v for k, v in during.headers.items()}
    after_headers = {k.lower(): v for k, v in after.headers.items()}
    assert len(during_headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):  # a receiver on either secret accepts it
        StandardWebhook(secret).verify(during.body, during_headers)
    assert len(after_headers["webhook-signature"].split(" ")) == 1
    StandardWebhook(new).verify(after.body, after_headers)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(old).verify(after.body, after_headers)
