"""Build the configured queue backend (``FLOWLLAMA_QUEUE__BACKEND``).

The SQS backend and boto3 are imported only when chosen, so the default install needs neither.
"""

from __future__ import annotations

from flowllama.db.session import Database
from flowllama.db.types import utcnow
from flowllama.queue.base import Clock, JobQueue, RetryPolicy
from flowllama.queue.config import QueueSettings
from flowllama.queue.database import DatabaseQueue


def retry_policy(settings: QueueSettings) -> RetryPolicy:
    """The backoff and attempt limit ``settings`` ask for."""
    return RetryPolicy(max_attempts=settings.max_attempts, base_s=settings.backoff_base_s,
                       max_s=settings.backoff_max_s)


def build_queue(settings: QueueSettings, database: Database, *, clock: Clock = utcnow
                ) -> JobQueue:
    """The queue every role shares: the database backend, or SQS FIFO queues.

    For SQS the queues are created when missing (``sqs.create_queues``) and a user's priority
    is read from ``database`` at enqueue time.
    """
    policy = retry_policy(settings)
    if settings.backend == "db":
        return DatabaseQueue(database, policy=policy, lease_s=settings.lease_s, clock=clock)
    from flowllama.queue.priority import priority_lookup
    from flowllama.queue.sqs import SqsQueue
    from flowllama.queue.sqs_setup import ensure_queues, sqs_client

    client = sqs_client(settings.sqs)
    urls = ensure_queues(client, settings.sqs.name, max_receive_count=settings.max_attempts,
                         visibility_timeout_s=settings.lease_s,
                         create=settings.sqs.create_queues)
    return SqsQueue(client, urls, policy=policy, lease_s=settings.lease_s, clock=clock,
                    priority_of=priority_lookup(database))
