"""The dispatcher: claims due deliveries from the outbox, sends them, records what happened.

Runs as a thread inside the agent. Several dispatchers (agents) may run at once: a delivery
is claimed with a conditional UPDATE that bumps ``attempts`` from the value just read, so of
two dispatchers racing for a row exactly one wins on SQLite and PostgreSQL alike, and
``attempts`` is the claim's fencing token — a dispatcher whose claim went stale cannot
overwrite the newer attempt's result. A claim is a lease: a ``sending`` row whose
``next_attempt_at`` has passed (its dispatcher died) is claimed again.

Sends run in a pool and the dispatcher never waits for a batch: it claims whatever the pool and
the per-receiver and per-tenant limits (``fairness.py``) leave room for, so a receiver that
never answers holds a few threads for one timeout each and delays nobody else.

A failed attempt is retried after ``backoff_base_s * 2 ** (attempts - 1)`` (capped) until
``max_attempts``; then the delivery is ``failed``. A URL refused by the SSRF rules at send time
fails at once. Every attempt's status code or error is kept for the delivery log. Deliveries
are signed per Standard Webhooks (``signing.py``), with the previous secret too while a
rotation's overlap lasts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from flowllama.db.session import Database
from flowllama.db.tables import Webhook, WebhookDelivery
from flowllama.db.types import utcnow
from flowllama.logging import get_logger
from flowllama.loops import LoopHealth, supervise
from flowllama.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS
from flowllama.queue.base import RetryPolicy
from flowllama.settings import WebhookSettings
from flowllama.webhooks.fairness import InFlight, receiver_of
from flowllama.webhooks.secrets import SecretBox
from flowllama.webhooks.sender import SendResult, WebhookSender
from flowllama.webhooks.signing import signature_header
from flowllama.webhooks.ssrf import url_policy

log = get_logger(__name__)

CLAIMABLE = ("pending", "sending")
# How long a claim lasts beyond the request timeout before another dispatcher may retry it.
CLAIM_MARGIN_S = 30.0
MAX_PARALLEL_SENDS = 16
# Batches one claim may read when rows of full receivers keep turning up (bounds one round).
CLAIM_PAGES = 4
# Webhook ids left out of the claim query while their receiver is full (a ``NOT IN`` list).
# A receiver shared by thousands of tenants would otherwise grow it without bound for as long
# as it stays full; past the cap, further webhooks of full receivers are read and skipped as
# before parking existed, which ``CLAIM_PAGES`` still bounds per round.
MAX_PARKED = 256


@dataclass(frozen=True)
class Claimed:
    """A delivery this dispatcher holds: ``attempts`` includes the attempt being made. The
    secrets are as stored (encrypted); ``previous_secret`` only while it is still valid."""

    id: str
    event: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str
    previous_secret: str | None = None
    tenant: str = ""

    @property
    def receiver(self) -> str:
        return receiver_of(self.url)


def request_headers(claimed: Claimed, body: bytes, timestamp: int,
                    signing_secrets: list[str]) -> dict[str, str]:
    """The headers of one attempt: Standard Webhooks' three, and the event's name."""
    return {
        "Content-Type": "application/json",
        "X-FlowLlama-Event": claimed.event,
        "webhook-id": claimed.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(signing_secrets, claimed.id, timestamp, body),
    }


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class WebhookDispatcher:
    """Sends the outbox; ``start``/``stop`` run it as a daemon thread, ``run_once`` is one
    round (what the thread repeats, and what tests call)."""

    def __init__(self, db: Database, settings: WebhookSettings, *,
                 sender: WebhookSender | None = None, box: SecretBox | None = None,
                 clock: Callable[[], datetime] = utcnow, loops: LoopHealth | None = None
                 ) -> None:
        self.db = db
        self.settings = settings
        self.sender = sender or WebhookSender(url_policy(settings), timeout_s=settings.timeout_s)
        self.box = box or SecretBox(None)
        self.retry = RetryPolicy(max_attempts=settings.max_attempts,
                                 base_s=settings.backoff_base_s, max_s=settings.backoff_max_s)
        self.clock = clock
        self.claim_s = settings.timeout_s * 2 + CLAIM_MARGIN_S
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.in_flight = InFlight(settings.receiver_concurrency, MAX_PARALLEL_SENDS)
        self._pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_SENDS,
                                        thread_name_prefix="webhook-send")
        self.loops = loops or LoopHealth()
        self._beat = self.loops.register("webhook-dispatcher")
        # Webhook id -> receiver, for webhooks skipped because their receiver was full: their
        # rows are left out of the claim query while it stays full (claim() is only called by
        # one thread at a time: the dispatcher's, or a test's run_once).
        self._parked: dict[str, str] = {}

    def start(self) -> None:
        self._thread = threading.Thread(
            target=supervise, args=(self._beat, self.pump, self._stopping),
            kwargs={"idle_s": self.settings.poll_s}, name="webhook-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop claiming; wait up to ``timeout_s`` for attempts in flight (an unfinished one
        is claimed again by any dispatcher once its claim expires)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.loops.retire(self._beat)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sender.close()

    def pump(self) -> bool:
        """Claim what the limits leave room for and start sending it, without waiting; True
        when something was claimed (the thread's round, run under ``supervise``)."""
        claimed = self.claim()
        for delivery in claimed:
            self._pool.submit(self._deliver, delivery)
        return bool(claimed)

    def run_once(self) -> int:
        """Send everything due now and wait for the results; returns how many deliveries were
        claimed (what tests call: claim, send, wait, until nothing due is left)."""
        total = 0
        while claimed := self.claim():
            wait([self._pool.submit(self._deliver, delivery) for delivery in claimed])
            total += len(claimed)
        return total

    def claim(self) -> list[Claimed]:
        """Take due deliveries for this dispatcher, within the in-flight limits (each claimed
        one holds its slot until recorded); rows another dispatcher won are skipped.

        Rows of busy tenants and of webhooks whose receiver is full are left out of the query,
        so they cannot fill the batch and hide everyone else's due rows; a batch that met a
        full receiver is read again without it (at most ``CLAIM_PAGES`` times). At most
        ``MAX_PARKED`` webhooks are left out this way.
        """
        now = self.clock()
        full = self.in_flight.full_receivers()
        self._parked = {hook: rcv for hook, rcv in self._parked.items() if rcv in full}
        claimed: list[Claimed] = []
        for _page in range(CLAIM_PAGES):
            if self.in_flight.free() <= 0:
                break
            parked_before = len(self._parked)
            claimed += self._claim_page(now)
            if len(self._parked) == parked_before:  # nothing hid behind a full receiver
                break
        return claimed

    def _claim_page(self, now: datetime) -> list[Claimed]:
        due = (WebhookDelivery.status.in_(CLAIMABLE), WebhookDelivery.next_attempt_at <= now)
        query = (
            select(WebhookDelivery.id, WebhookDelivery.event, WebhookDelivery.payload,
                   WebhookDelivery.attempts, Webhook.id.label("webhook_id"), Webhook.url,
                   Webhook.secret, Webhook.previous_secret, Webhook.previous_secret_expires_at,
                   Webhook.user_id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id).where(*due)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(self.settings.batch_size))
        busy = self.in_flight.busy_tenants()
        if busy:  # their rows would only be skipped: let others' rows fill the batch
            query = query.where(Webhook.user_id.not_in(busy))
        if self._parked:  # the same for receivers that are full
            query = query.where(Webhook.id.not_in(list(self._parked)))
        with self.db.session() as session:
            rows = session.execute(query).all()
        claimed = []
        for row in rows:
            previous = (row.previous_secret if row.previous_secret_expires_at is not None
                        and row.previous_secret_expires_at > now else None)
            delivery = Claimed(row.id, row.event, dict(row.payload), row.attempts + 1,
                               row.url, row.secret, previous, row.user_id)
            if not self.in_flight.acquire(delivery.receiver, delivery.tenant):
                self._park(row.webhook_id, delivery.receiver)
                continue
            if self._take(row.id, row.attempts, now, due):
                claimed.append(delivery)
            else:
                self.in_flight.release(delivery.receiver, delivery.tenant)
        return claimed

    def _park(self, webhook_id: str, receiver: str) -> None:
        """Leave ``webhook_id`` out of the claim query while ``receiver`` is full (up to
        ``MAX_PARKED`` webhooks)."""
        if len(self._parked) < MAX_PARKED and receiver in self.in_flight.full_receivers():
            self._parked[webhook_id] = receiver

    def _take(self, delivery_id: str, attempts: int, now: datetime, due: tuple[Any, ...]
              ) -> bool:
        with self.db.session() as session:
            won = session.execute(
                update(WebhookDelivery).where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == attempts,
                    *due)
                .values(status="sending", attempts=attempts + 1,
                        next_attempt_at=now + timedelta(seconds=self.claim_s))
                .execution_options(synchronize_session=False))
        return bool(won.rowcount == 1)  # type: ignore[attr-defined]

    def _deliver(self, claimed: Claimed) -> None:
        try:
            try:
                body = encode_body(claimed.payload)
                signing = [self.box.open(claimed.secret)]
                if claimed.previous_secret is not None:
                    signing.append(self.box.open(claimed.previous_secret))
                result = self.sender.send(claimed.url, body, request_headers(
                    claimed, body, int(time.time()), signing))
            except Exception as exc:  # never leave a claim unrecorded because of a bug
                log.exception("webhooks.send_crashed", delivery_id=claimed.id)
                result = SendResult(error=f"internal error: {type(exc).__name__}")
            self.record(claimed, result)
        except Exception:  # the database is away: the claim expires and is retried
            log.exception("webhooks.record_failed", delivery_id=claimed.id)
        finally:
            self.in_flight.release(claimed.receiver, claimed.tenant)

    def record(self, claimed: Claimed, result: SendResult) -> str:
        """Store the attempt's result under the claim; returns the outcome label."""
        now = self.clock()
        values: dict[str, Any] = {"response_status": result.status_code, "error": result.error}
        if result.ok:
            outcome = "delivered"
            values.update(status="delivered", delivered_at=now, error=None)
        elif result.permanent or self.retry.exhausted(claimed.attempts):
            outcome = "refused" if result.permanent else "failed"
            values.update(status="failed")
        else:
            outcome = "retry"
            delay = self.retry.delay_s(claimed.attempts)
            values.update(status="pending", next_attempt_at=now + timedelta(seconds=delay))
        with self.db.session() as session:
            session.execute(
                update(WebhookDelivery).where(
                    WebhookDelivery.id == claimed.id, WebhookDelivery.status == "sending",
                    WebhookDelivery.attempts == claimed.attempts)
                .values(**values).execution_options(synchronize_session=False))
        WEBHOOK_DELIVERIES.labels(claimed.event, outcome).inc()
        WEBHOOK_DELIVERY_SECONDS.observe(result.duration_s)
        log.info("webhooks.attempt", delivery_id=claimed.id, attempt=claimed.attempts,
                 outcome=outcome, status_code=result.status_code)
        return outcome
