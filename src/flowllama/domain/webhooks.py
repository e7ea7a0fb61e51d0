"""Request and response bodies of the webhooks API (``/api/webhooks``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowllama.domain.accounts import Strict


class WebhookEvent(StrEnum):
    """What a webhook can subscribe to; the value is the ``event`` field of each delivery."""

    RUNNING = "deployment.running"
    UNHEALTHY = "deployment.unhealthy"
    HEALED = "deployment.healed"
    FAILED = "deployment.failed"
    DELETED = "deployment.deleted"
    # Cost autopilot (docs/autopilot.md); all but SLEEPING are sent by webhooks.events.notify.
    SLEEPING = "deployment.sleeping"
    WOKEN = "deployment.woken"
    SCALED = "deployment.scaled"
    REPLACED = "deployment.replaced"
    SPOT_RECLAIMED = "deployment.spot_reclaimed"
    RECOMMENDATION = "deployment.recommendation"
    BUDGET_THRESHOLD = "budget.threshold"


class WebhookCreate(Strict):
    """A new webhook: an http(s) URL (checked against the SSRF rules) and its events."""

    url: str = Field(min_length=1, max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1, max_length=len(WebhookEvent))

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[WebhookEvent]) -> list[WebhookEvent]:
        return list(dict.fromkeys(value))  # keep the order, drop duplicates


class WebhookOut(BaseModel):
    """A webhook as its owner sees it later: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreated(WebhookOut):
    """The answer to a create: the only time the signing ``secret`` is shown."""

    secret: str


class SecretRotated(WebhookCreated):
    """The answer to a rotation: the new ``secret`` (shown this once); the previous one still
    signs deliveries, next to the new one, until ``previous_secret_expires_at``."""

    previous_secret_expires_at: datetime | None


class DeliveryOut(BaseModel):
    """One entry of a webhook's delivery log.

    ``status`` is ``pending`` (waiting for its next attempt), ``sending``, ``delivered`` or
    ``failed`` (out of attempts, or refused by the SSRF rules at send time).
    """

    model_config = ConfigDict(from_attributes=True)

    id: str
    event: str
    status: str
    attempts: int
    response_status: int | None
    error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    payload: dict[str, object]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int
