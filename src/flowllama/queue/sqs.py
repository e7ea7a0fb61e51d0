"""SQS FIFO queue backend (``FLOWLLAMA_QUEUE__BACKEND=sqs``) for AWS-scale installs.

Mapping of the queue contract onto SQS:

* enqueue → ``SendMessage`` to the paid or free lane (see ``sqs_setup.py``) with
  ``MessageGroupId`` = user id — SQS then delivers a user's messages one at a time in order —
  and ``MessageDeduplicationId`` = job id. A dedup key makes the job id a hash of (user, key), so
  SQS drops a repeat inside its 5-minute deduplication window (it cannot say it did: the result
  always reads ``created=True``).
* lease → ``ReceiveMessage`` (paid lane first) with ``VisibilityTimeout`` = lease; the lease
  token is the lane plus the receipt handle; attempts = ``ApproximateReceiveCount``.
* ack → ``DeleteMessage``; retry → ``ChangeMessageVisibility`` to the backoff delay (the
  message stays in flight, so the user's later jobs wait behind it — stricter than the
  database backend); dead_letter → send to the dead-letter queue with the error, then delete.
* a message received ``maxReceiveCount`` times without an ack is moved by SQS itself.

Differences from the database backend: ``delay_s`` is refused (FIFO queues have no per-message
delay); an operation after the lease's expiry is refused even if nobody received the message
since (AWS FIFO expires the receipt handle then); ``list_dead`` and ``requeue_dead`` peek at the
dead-letter queue, which sees at most one receive batch per user; a user whose tier changes
may have jobs in both lanes, which are not ordered against each other.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from flowllama.db.types import new_id, utcnow
from flowllama.errors import InvalidInput, NotFound
from flowllama.logging import get_logger
from flowllama.queue.base import (
    Clock,
    DeadJob,
    EnqueuedJob,
    JobMessage,
    LeaseLost,
    QueueDepth,
    RetryOutcome,
    RetryPolicy,
    clip_error,
)
from flowllama.queue.priority import Priority, is_paid
from flowllama.queue.sqs_setup import SqsQueueUrls

# Error codes SQS answers for a receipt handle that is no longer the current one.
_LOST_LEASE_CODES = frozenset(
    {"ReceiptHandleIsInvalid", "InvalidParameterValue", "MessageNotInflight",
     "AWS.SimpleQueueService.MessageNotInflight"}
)
_PEEK_VISIBILITY_S = 30
_log = get_logger(__name__)


class SqsQueue:
    """:class:`~flowllama.queue.base.JobQueue` on SQS FIFO queues (``client`` is boto3's)."""

    def __init__(
        self,
        client: Any,
        urls: SqsQueueUrls,
        *,
        policy: RetryPolicy | None = None,
        lease_s: float = 300.0,
        clock: Clock = utcnow,
        priority_of: Callable[[str], int] | None = None,
    ) -> None:
        self._sqs = client
        self._urls = urls
        self._policy = policy or RetryPolicy()
        self._lease_s = lease_s
        self._clock = clock
        self._priority_of = priority_of

    def enqueue(
        self,
        user_id: str,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        deployment_id: str | None = None,
        priority: int | None = None,
        dedup_key: str | None = None,
        max_attempts: int | None = None,
        delay_s: float = 0.0,
    ) -> EnqueuedJob:
        """Send the job to its lane (see module doc for dedup and ``delay_s``)."""
        if delay_s > 0:
            raise InvalidInput("SQS FIFO queues cannot delay one message", field="delay_s")
        if priority is None:
            priority = self._priority_of(user_id) if self._priority_of else int(Priority.FREE)
        job_id = _dedup_job_id(user_id, dedup_key) if dedup_key else new_id()
        body = {
            "id": job_id, "user_id": user_id, "kind": kind, "payload": dict(payload or {}),
            "deployment_id": deployment_id, "priority": priority, "dedup_key": dedup_key,
            "max_attempts": max_attempts or self._policy.max_attempts,
        }
        self._sqs.send_message(
            QueueUrl=self._urls.lane(is_paid(priority)), MessageBody=json.dumps(body),
            MessageGroupId=user_id, MessageDeduplicationId=job_id,
        )
        return EnqueuedJob(id=job_id, created=True, status="queued")

    def lease(self, *, lease_s: float | None = None) -> JobMessage | None:
        """Receive one message, paid lane first; None when both lanes look empty."""
        seconds = _whole_seconds(self._lease_s if lease_s is None else lease_s)
        for paid in (True, False):
            while (raw := self._receive_one(self._urls.lane(paid), seconds)) is not None:
                job = self._to_message(paid, raw, seconds)
                if job is not None:
                    return job
        return None

    def extend(self, job: JobMessage, *, lease_s: float | None = None) -> JobMessage:
        """Reset the visibility timeout to ``lease_s`` from now."""
        seconds = _whole_seconds(self._lease_s if lease_s is None else lease_s)
        url, handle = self._held(job, "extend")
        with self._lease_guard(job, "extend"):
            self._sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle,
                                                VisibilityTimeout=seconds)
        return replace(job, lease_expires_at=self._clock() + timedelta(seconds=seconds))

    def ack(self, job: JobMessage) -> None:
        """Delete the message."""
        url, handle = self._held(job, "ack")
        with self._lease_guard(job, "ack"):
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)

    def retry(self, job: JobMessage, error: str) -> RetryOutcome:
        """Hide the message for the backoff delay, or dead-letter it after the last attempt."""
        url, handle = self._held(job, "retry")
        if self._policy.exhausted(job.attempts, job.max_attempts):
            self.dead_letter(job, error)
            return RetryOutcome(dead_lettered=True, run_after=None)
        delay = _whole_seconds(self._policy.delay_s(job.attempts), minimum=0)
        with self._lease_guard(job, "retry"):
            self._sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle,
                                                VisibilityTimeout=delay)
        _log.info("queue.retry", job_id=job.id, attempts=job.attempts, delay_s=delay)
        return RetryOutcome(dead_lettered=False, run_after=self._clock() + timedelta(seconds=delay))

    def dead_letter(self, job: JobMessage, error: str) -> None:
        """Copy the job with its error to the dead-letter queue, then delete the original."""
        url, handle = self._held(job, "dead_letter")
        body = {
            "id": job.id, "user_id": job.user_id, "kind": job.kind, "payload": job.payload,
            "deployment_id": job.deployment_id, "priority": job.priority,
            "dedup_key": job.dedup_key, "max_attempts": job.max_attempts,
            "attempts": job.attempts, "last_error": clip_error(error),
            "failed_at": self._clock().isoformat(),
        }
        self._send_dead(body, job.user_id)
        with self._lease_guard(job, "dead_letter"):
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)

    def list_dead(self, *, user_id: str | None = None, limit: int = 100) -> list[DeadJob]:
        """Dead jobs found by peeking at the dead-letter queue, most recent first."""
        with self._peek_dead() as messages:
            dead = [_dead(message) for message in messages]
        if user_id is not None:
            dead = [job for job in dead if job.user_id == user_id]
        epoch = datetime.min.replace(tzinfo=UTC)
        dead.sort(key=lambda job: job.failed_at or epoch, reverse=True)
        return dead[: max(1, limit)]

    def requeue_dead(self, job_id: str) -> EnqueuedJob:
        """Send a dead job back to its lane with fresh attempts; ``NotFound`` if not seen."""
        with self._peek_dead() as messages:
            for message in messages:
                body = _body(message)
                if body.get("id") != job_id:
                    continue
                fresh = {key: body.get(key) for key in (
                    "id", "user_id", "kind", "payload", "deployment_id", "priority",
                    "dedup_key", "max_attempts")}
                # A new deduplication id: the job id may still be inside SQS's 5-minute window.
                self._sqs.send_message(
                    QueueUrl=self._urls.lane(is_paid(int(fresh["priority"] or 0))),
                    MessageBody=json.dumps(fresh), MessageGroupId=str(fresh["user_id"]),
                    MessageDeduplicationId=new_id(),
                )
                self._sqs.delete_message(QueueUrl=self._urls.dead,
                                         ReceiptHandle=message["ReceiptHandle"])
                messages.remove(message)
                return EnqueuedJob(id=job_id, created=True, status="queued")
        raise NotFound("no dead job with this id", field="job_id")

    def depth(self) -> QueueDepth:
        """SQS's approximate counts (a job waiting out its backoff counts as in flight)."""
        lanes = [self._counts(self._urls.paid), self._counts(self._urls.free)]
        dead = self._counts(self._urls.dead)
        dead_total = dead["ApproximateNumberOfMessages"]
        dead_total += dead["ApproximateNumberOfMessagesNotVisible"]
        return QueueDepth(
            ready=sum(lane["ApproximateNumberOfMessages"] for lane in lanes),
            delayed=sum(lane["ApproximateNumberOfMessagesDelayed"] for lane in lanes),
            in_flight=sum(lane["ApproximateNumberOfMessagesNotVisible"] for lane in lanes),
            dead=dead_total,
        )

    def _receive_one(self, url: str, visibility_s: int) -> dict[str, Any] | None:
        response = self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=visibility_s,
            WaitTimeSeconds=0, MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages[0] if messages else None

    def _to_message(self, paid: bool, raw: dict[str, Any], seconds: int) -> JobMessage | None:
        """The delivery as a JobMessage, or None after dead-lettering an unusable one."""
        url = self._urls.lane(paid)
        receipt = str(raw["ReceiptHandle"])
        try:
            body = _body(raw)
            job = JobMessage(
                id=str(body["id"]), user_id=str(body["user_id"]), kind=str(body["kind"]),
                payload=dict(body.get("payload") or {}), deployment_id=body.get("deployment_id"),
                priority=int(body.get("priority") or 0),
                attempts=int(raw["Attributes"]["ApproximateReceiveCount"]),
                max_attempts=int(body.get("max_attempts") or self._policy.max_attempts),
                lease_token=f"{'paid' if paid else 'free'}:{receipt}",
                lease_expires_at=self._clock() + timedelta(seconds=seconds),
                dedup_key=body.get("dedup_key"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            self._bury_raw(url, raw, f"unreadable message: {exc!r}")
            return None
        if job.attempts > job.max_attempts:
            # Its lease expired on the last attempt (the worker died or was too slow).
            self.dead_letter(job, f"lease expired on attempt {job.max_attempts} of "
                                  f"{job.max_attempts} without an ack")
            return None
        return job

    def _bury_raw(self, url: str, raw: dict[str, Any], error: str) -> None:
        body = {"id": raw.get("MessageId"), "raw_body": raw.get("Body"), "last_error": error,
                "failed_at": self._clock().isoformat()}
        self._send_dead(body, "unreadable")
        self._sqs.delete_message(QueueUrl=url, ReceiptHandle=raw["ReceiptHandle"])

    def _send_dead(self, body: dict[str, Any], group: str) -> None:
        # Dead-letter sends never deduplicate: a job may die, be requeued and die again.
        self._sqs.send_message(QueueUrl=self._urls.dead, MessageBody=json.dumps(body),
                               MessageGroupId=group, MessageDeduplicationId=new_id())

    def _held(self, job: JobMessage, operation: str) -> tuple[str, str]:
        """The lane URL and receipt handle of a lease that has not run out."""
        lane, _, handle = job.lease_token.partition(":")
        if lane not in ("paid", "free") or not handle:
            raise LeaseLost(job.id, operation, "not a lease token of this queue")
        if self._clock() >= job.lease_expires_at:
            _log.warning("queue.lease_lost", job_id=job.id, operation=operation)
            raise LeaseLost(job.id, operation, "the visibility timeout has passed")
        return self._urls.lane(lane == "paid"), handle

    @contextmanager
    def _lease_guard(self, job: JobMessage, operation: str) -> Iterator[None]:
        """Turn SQS's "receipt handle no longer valid" answers into :class:`LeaseLost`."""
        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in _LOST_LEASE_CODES:
                raise
            _log.warning("queue.lease_lost", job_id=job.id, operation=operation, code=code)
            raise LeaseLost(job.id, operation, code) from exc

    @contextmanager
    def _peek_dead(self) -> Iterator[list[dict[str, Any]]]:
        """Receive what the dead-letter queue shows, then make it visible again."""
        seen: list[dict[str, Any]] = []
        try:
            while batch := self._sqs.receive_message(
                QueueUrl=self._urls.dead, MaxNumberOfMessages=10,
                VisibilityTimeout=_PEEK_VISIBILITY_S, WaitTimeSeconds=0,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            ).get("Messages", []):
                seen.extend(batch)
            yield seen
        finally:
            for start in range(0, len(seen), 10):
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"],
                            "VisibilityTimeout": 0}
                           for i, m in enumerate(seen[start:start + 10])]
                self._sqs.change_message_visibility_batch(QueueUrl=self._urls.dead,
                                                          Entries=entries)

    def _counts(self, url: str) -> dict[str, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
                 "ApproximateNumberOfMessagesNotVisible"]
        attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        return {name: int(attributes["Attributes"].get(name, 0)) for name in names}


def _whole_seconds(seconds: float, *, minimum: int = 1) -> int:
    """SQS takes whole seconds; round up so a lease or backoff is never shorter than asked."""
    return max(minimum, math.ceil(seconds))


def _dedup_job_id(user_id: str, dedup_key: str) -> str:
    return hashlib.sha256(f"{user_id}\0{dedup_key}".encode()).hexdigest()[:32]


def _body(message: Mapping[str, Any]) -> dict[str, Any]:
    body = json.loads(message["Body"])
    if not isinstance(body, dict):
        raise ValueError("message body is not a JSON object")
    return body


def _dead(message: Mapping[str, Any]) -> DeadJob:
    """A dead-letter message as a DeadJob; SQS's own redrive leaves no error in the body."""
    body = _body(message)
    receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0))
    failed_at = body.get("failed_at")
    return DeadJob(
        id=str(body.get("id")), user_id=str(body.get("user_id")), kind=str(body.get("kind")),
        payload=dict(body.get("payload") or {}), deployment_id=body.get("deployment_id"),
        attempts=int(body.get("attempts") or receives),
        last_error=body.get("last_error") or "moved by SQS redrive (receive limit reached)",
        failed_at=datetime.fromisoformat(failed_at) if failed_at else None,
        dedup_key=body.get("dedup_key"),
    )
