"""Query and response bodies of the usage API (``/api/usage``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from flowllama.db.types import utcnow
from flowllama.domain.accounts import Strict

MAX_RANGE_DAYS = 366
GroupBy = Literal["key", "deployment", "day"]


def _month_start() -> date:
    return utcnow().date().replace(day=1)


def _today() -> date:
    return utcnow().date()


class UsageQuery(Strict):
    """Days ``from``..``to`` (UTC, both included; default: this month so far), grouped."""

    from_: date = Field(default_factory=_month_start, alias="from")
    to: date = Field(default_factory=_today)
    group_by: GroupBy = "day"

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.to < self.from_:
            raise ValueError("'to' must not be before 'from'")
        if self.to - self.from_ > timedelta(days=MAX_RANGE_DAYS):
            raise ValueError(f"the range may span at most {MAX_RANGE_DAYS} days")
        return self


class UsageTotals(BaseModel):
    """Requests, tokens and attributed cost; ``usd_per_million_tokens`` is None without
    tokens."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    usd_per_million_tokens: float | None = None


class UsageGroup(UsageTotals):
    """One group: ``group`` is the key id, deployment id or ISO day; ``label`` a readable name
    (key name and prefix, deployment name)."""

    group: str
    label: str


class UsageReport(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    group_by: GroupBy
    items: list[UsageGroup]
    total: UsageTotals
