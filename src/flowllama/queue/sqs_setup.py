"""SQS plumbing for the SQS queue backend: the client and the three FIFO queues it uses.

Priority has no SQS equivalent, so there is one FIFO queue per lane — ``<name>-paid.fifo``
and ``<name>-free.fifo``, the paid one polled first — and both redrive to one FIFO dead-letter
queue, ``<name>-dead.fifo``, after ``maxReceiveCount`` receives. boto3 is imported only here
and only when the backend is used (the ``aws`` extra).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowllama.errors import ConfigError
from flowllama.queue.config import SqsQueueSettings

# Fourteen days, SQS's longest retention: a dead job waits for an admin.
DEAD_RETENTION_S = 14 * 24 * 3600


@dataclass(frozen=True, slots=True)
class SqsQueueUrls:
    """The URLs of the paid lane, the free lane and the dead-letter queue."""

    paid: str
    free: str
    dead: str

    def lane(self, paid: bool) -> str:
        return self.paid if paid else self.free


def sqs_client(settings: SqsQueueSettings) -> Any:
    """A boto3 SQS client for ``settings`` (credentials from the usual AWS chain)."""
    try:
        import boto3
    except ImportError as exc:
        raise ConfigError(
            "FLOWLLAMA_QUEUE__BACKEND=sqs needs boto3: pip install 'flowllama[aws]'"
        ) from exc
    session = boto3.session.Session()
    return session.client("sqs", region_name=settings.region,
                          endpoint_url=settings.endpoint_url)


def queue_names(name: str) -> SqsQueueUrls:
    """The queue *names* (not URLs) derived from the configured prefix."""
    return SqsQueueUrls(paid=f"{name}-paid.fifo", free=f"{name}-free.fifo",
                        dead=f"{name}-dead.fifo")


def ensure_queues(
    client: Any,
    name: str,
    *,
    max_receive_count: int,
    visibility_timeout_s: int,
    create: bool = True,
) -> SqsQueueUrls:
    """Create the lanes and the dead-letter queue when missing and return their URLs.

    Idempotent. A queue that already exists keeps its attributes (SQS refuses to "create" it
    with different ones; an operator's Terraform wins). With ``create=False`` nothing is
    created and the URLs are looked up by name.
    """
    names = queue_names(name)
    if not create:
        return SqsQueueUrls(paid=_url(client, names.paid), free=_url(client, names.free),
                            dead=_url(client, names.dead))
    dead = _create(client, names.dead, {"FifoQueue": "true",
                                        "MessageRetentionPeriod": str(DEAD_RETENTION_S)})
    dead_arn = client.get_queue_attributes(
        QueueUrl=dead, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    lane_attributes = {
        "FifoQueue": "true",
        "VisibilityTimeout": str(visibility_timeout_s),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receive_count}
        ),
        # Deduplicate and throttle per message group (= user) for high-throughput FIFO.
        "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId",
    }
    return SqsQueueUrls(paid=_create(client, names.paid, lane_attributes),
                        free=_create(client, names.free, lane_attributes), dead=dead)


def _create(client: Any, queue_name: str, attributes: dict[str, str]) -> str:
    try:
        response = client.create_queue(QueueName=queue_name, Attributes=attributes)
    except client.exceptions.QueueNameExists:
        return _url(client, queue_name)
    return str(response["QueueUrl"])


def _url(client: Any, queue_name: str) -> str:
    return str(client.get_queue_url(QueueName=queue_name)["QueueUrl"])
