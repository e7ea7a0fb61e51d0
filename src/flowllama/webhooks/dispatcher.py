"""The dispatcher: claims due deliveries from the outbox, sends them, records what happened.

Runs as a thread inside the agent. Several dispatchers (agents) may run at once: a delivery
is claimed with a conditional UPDATE that bumps ``attempts`` from the value just read, so of
two dispatchers racing for a row exactly one wins on SQLite and PostgreSQL alike, and
``attempts`` is the claim's fencing token — a dispatcher whose claim went stale cannot
overwrite the newer attempt's result. A claim is a lease: a ``sending`` row whose
``next_attempt_at`` has passed (its dispatcher died) is claimed again.

A failed attempt is retried after ``backoff_base_s * 2 ** (attempts - 1)`` (capped) until
``max_attempts``; then the delivery is ``failed``. A URL refused by the SSRF rules at send time
fails at once. Every attempt's status code or error is kept for the delivery log.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from flowllama.db.session import Database
from flowllama.db.tables import Webhook, WebhookDelivery
from flowllama.db.types import utcnow
from flowllama.logging import get_logger
from flowllama.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS
from flowllama.queue.base import RetryPolicy
from flowllama.settings import WebhookSettings
from flowllama.webhooks.sender import SendResult, WebhookSender
from flowllama.webhooks.signing import signature
from flowllama.webhooks.ssrf import AllowList, UrlPolicy

log = get_logger(__name__)

CLAIMABLE = ("pending", "sending")
# How long a claim lasts beyond the request timeout before another dispatcher may retry it.
CLAIM_MARGIN_S = 30.0
MAX_PARALLEL_SENDS = 8


@dataclass(frozen=True)
class Claimed:
    """A delivery this dispatcher holds: ``attempts`` includes the attempt being made."""

    id: str
    event: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str


def request_headers(claimed: Claimed, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one attempt (the timestamp is signed with the body)."""
    return {
        "Content-Type": "application/json",
        "X-FlowLlama-Event": claimed.event,
        "X-FlowLlama-Delivery": claimed.id,
        "X-FlowLlama-Timestamp": str(timestamp),
        "X-FlowLlama-Signature": signature(claimed.secret, timestamp, body),
    }


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class WebhookDispatcher:
    """Sends the outbox; ``start``/``stop`` run it as a daemon thread, ``run_once`` is one
    round (what the thread repeats, and what tests call)."""

    def __init__(self, db: Database, settings: WebhookSettings, *,
                 sender: WebhookSender | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.sender = sender or WebhookSender(UrlPolicy(AllowList(settings.allow_hosts)),
                                              timeout_s=settings.timeout_s)
        self.retry = RetryPolicy(max_attempts=settings.max_attempts,
                                 base_s=settings.backoff_base_s, max_s=settings.backoff_max_s)
        self.clock = clock
        self.claim_s = settings.timeout_s * 2 + CLAIM_MARGIN_S
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_SENDS, settings.batch_size),
                                        thread_name_prefix="webhook-send")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhook-dispatcher",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop claiming; wait up to ``timeout_s`` for attempts in flight (an unfinished one
        is claimed again by any dispatcher once its claim expires)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sender.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.run_once() > 0
            except Exception:  # a bug or a database outage must not end the thread
                log.exception("webhooks.dispatch_failed")
                busy = False
            if not busy:
                self._stopping.wait(self.settings.poll_s)

    def run_once(self) -> int:
        """Claim up to ``batch_size`` due deliveries, send them, record the results."""
        claimed = self.claim()
        if claimed:
            list(self._pool.map(self._deliver, claimed))
        return len(claimed)

    def claim(self) -> list[Claimed]:
        """Take due deliveries for this dispatcher; rows another dispatcher won are skipped."""
        now = self.clock()
        due = (WebhookDelivery.status.in_(CLAIMABLE), WebhookDelivery.next_attempt_at <= now)
        with self.db.session() as session:
            rows = session.execute(
                select(WebhookDelivery.id, WebhookDelivery.event, WebhookDelivery.payload,
                       WebhookDelivery.attempts, Webhook.url, Webhook.secret)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id).where(*due)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(self.settings.batch_size)).all()
        claimed = []
        for row in rows:
            with self.db.session() as session:
                won = session.execute(
                    update(WebhookDelivery).where(
                        WebhookDelivery.id == row.id, WebhookDelivery.attempts == row.attempts,
                        *due)
                    .values(status="sending", attempts=row.attempts + 1,
                            next_attempt_at=now + timedelta(seconds=self.claim_s))
                    .execution_options(synchronize_session=False))
            if won.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(Claimed(row.id, row.event, dict(row.payload),
                                       row.attempts + 1, row.url, row.secret))
        return claimed

    def _deliver(self, claimed: Claimed) -> None:
        try:
            body = encode_body(claimed.payload)
            result = self.sender.send(claimed.url, body,
                                      request_headers(claimed, body, int(time.time())))
        except Exception as exc:  # never leave a claim unrecorded because of a bug
            log.exception("webhooks.send_crashed", delivery_id=claimed.id)
            result = SendResult(error=f"internal error: {type(exc).__name__}")
        self.record(claimed, result)

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
