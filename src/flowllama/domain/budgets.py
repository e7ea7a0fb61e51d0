"""Request and response bodies of the budgets API (``/api/budgets``, ``/api/usage/spend``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from flowllama.domain.accounts import Strict

# Budget thresholds, in percent of ``monthly_usd``: each fires once a month.
THRESHOLDS = (50, 80, 100)
MAX_MONTHLY_USD = 10_000_000.0
USER_SCOPE = "user"
BudgetAction = Literal["stop", "warn"]


class BudgetIn(Strict):
    """A monthly spend budget: at 100 %, ``stop`` (a user budget stops the user's deployments,
    a key budget blocks the key at the gateway) or only ``warn``."""

    monthly_usd: float = Field(gt=0, le=MAX_MONTHLY_USD, allow_inf_nan=False)
    action: BudgetAction = "warn"


class AlertOut(BaseModel):
    """A threshold the budget crossed this month, and what was done then (``stopped``,
    ``blocked`` or ``warned``)."""

    threshold: int
    at: datetime
    action_taken: str | None


class BudgetOut(BaseModel):
    """A budget with its month so far: ``scope`` is ``user`` or ``key`` (then ``api_key_id``
    and ``label`` name the key)."""

    scope: Literal["user", "key"]
    api_key_id: str | None
    label: str
    monthly_usd: float
    action: BudgetAction
    spent_usd: float
    percent: float
    alerts: list[AlertOut]


class SpendOut(BaseModel):
    """The user's month (``YYYY-MM``, UTC): server hours + token charges = ``spend_usd``, the
    expected month total, and every budget with its alerts."""

    month: str
    spend_usd: float
    server_usd: float
    tokens_usd: float
    projection_usd: float
    budgets: list[BudgetOut]
