"""Request and response bodies of the API keys API (``/api/keys``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from flowllama.db.types import utcnow
from flowllama.domain.accounts import Strict

ModelName = Field(min_length=1, max_length=200)


class ApiKeyCreate(Strict):
    """A new key: a name for its owner, an optional expiry, model allow-list and limits.

    ``models`` restricts the key to those deployment or model names (None: every model of the
    owner). Limits are per key: requests and tokens per minute, tokens per calendar month.
    """

    name: str = Field(min_length=1, max_length=100)
    expires_at: AwareDatetime | None = None
    models: list[str] | None = Field(None, min_length=1, max_length=100)
    rpm: int | None = Field(None, ge=1, le=1_000_000)
    tpm: int | None = Field(None, ge=1, le=1_000_000_000)
    monthly_token_budget: int | None = Field(None, ge=1, le=10**15)

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= utcnow():
            raise ValueError("expires_at must be in the future")
        return value

    @field_validator("models")
    @classmethod
    def _model_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if any(not name.strip() or len(name) > 200 for name in value):
            raise ValueError("each model must be a name of 1 to 200 characters")
        return list(dict.fromkeys(value))  # keep the order, drop duplicates


class ApiKeyOut(BaseModel):
    """A key as its owner sees it later: never the key itself nor its hash."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    models: list[str] | None
    rpm: int | None
    tpm: int | None
    monthly_token_budget: int | None
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """The answer to a create: the only time the full ``key`` is shown."""

    key: str
