"""Settings of the job queue (``FLOWLLAMA_QUEUE__*``), mounted on the root tree as ``queue``.

``backend`` picks the implementation: ``db`` (the default: the platform's own database, SQLite
or PostgreSQL) or ``sqs`` (Amazon SQS FIFO queues, needs the ``aws`` extra).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

# SQS caps a message's visibility timeout at 12 hours.
SQS_MAX_VISIBILITY_S = 43_200


class SqsQueueSettings(BaseModel):
    """Where the SQS backend's queues live.

    ``name`` is a prefix: the backend uses ``<name>-paid.fifo`` and ``<name>-free.fifo`` (paid is
    polled first) and the dead-letter queue ``<name>-dead.fifo``. With ``create_queues`` the
    queues are created on start-up when missing; without it their URLs are looked up by name
    (queues made by Terraform).
    """

    name: str = Field("flowllama-jobs", pattern=r"^[A-Za-z0-9_-]{1,70}$")
    region: str = "us-east-1"
    endpoint_url: str | None = None
    create_queues: bool = True


class QueueSettings(BaseModel):
    """Leases, retries and the backend of the agent's job queue."""

    backend: Literal["db", "sqs"] = "db"
    lease_s: int = Field(300, ge=1, le=SQS_MAX_VISIBILITY_S)
    max_attempts: int = Field(3, ge=1, le=100)
    backoff_base_s: float = Field(2.0, ge=0)
    backoff_max_s: float = Field(300.0, ge=0, le=SQS_MAX_VISIBILITY_S)
    sqs: SqsQueueSettings = Field(default_factory=SqsQueueSettings)

    @model_validator(mode="after")
    def _backoff_cap_covers_base(self) -> Self:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be at least backoff_base_s")
        return self
