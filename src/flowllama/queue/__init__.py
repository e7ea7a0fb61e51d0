"""The agent's job queue: one contract (``base.JobQueue``), a database and an SQS backend.

Use :func:`build_queue` to get the configured backend; see ``docs/queue.md``.
"""

from flowllama.queue.base import (
    DeadJob,
    EnqueuedJob,
    JobMessage,
    JobQueue,
    LeaseLost,
    QueueDepth,
    RetryOutcome,
    RetryPolicy,
)
from flowllama.queue.config import QueueSettings, SqsQueueSettings
from flowllama.queue.database import DatabaseQueue
from flowllama.queue.factory import build_queue, retry_policy
from flowllama.queue.priority import Priority

__all__ = [
    "DatabaseQueue",
    "DeadJob",
    "EnqueuedJob",
    "JobMessage",
    "JobQueue",
    "LeaseLost",
    "Priority",
    "QueueDepth",
    "QueueSettings",
    "RetryOutcome",
    "RetryPolicy",
    "SqsQueueSettings",
    "build_queue",
    "retry_policy",
]
