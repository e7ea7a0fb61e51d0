"""Monthly token budgets: refuse a key's requests (429 ``insufficient_quota``) once its month's
tokens reach ``monthly_token_budget``, or once its month's spend (as of the key's load) reached
its spend budget with action ``stop`` (``docs/autopilot.md``, "Budgets").

Tokens used = what the database held for the key's month when the key cache loaded it
(``KeyInfo.month_tokens``) + what this process has served for the key since that load. Tokens
another gateway served since the load show up at the next key reload (``KEY_CACHE_TTL_S``), and
tokens this process served just before a load but flushed after it are missed until the next
reload, so a key can overshoot by about one TTL (plus one flush interval) of traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flowllama.db.types import utcnow
from flowllama.errors import RateLimited
from flowllama.gateway import telemetry
from flowllama.gateway.keys import KeyInfo


def _month(now: datetime) -> str:
    return now.strftime("%Y-%m")


def seconds_to_next_month(now: datetime) -> int:
    """Whole seconds from ``now`` (UTC) to the first instant of next month."""
    first = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return max(1, int((first - now).total_seconds()))


class MonthlyBudget:
    """Per-key, per-month token spend of this process, checked against key budgets."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        # (key id, month) → tokens this process served, since it started
        self._spent: dict[tuple[str, str], int] = {}
        # key id → (which load of it, what ``_spent`` was when that load was first seen)
        self._baseline: dict[str, tuple[float, int]] = {}

    def check(self, key: KeyInfo) -> None:
        """Raise ``RateLimited`` (``insufficient_quota``) when ``key``'s month is used up."""
        now = self._clock()
        self._check_spend(key, now)
        if key.monthly_token_budget is None:
            return
        if self.used(key, now) >= key.monthly_token_budget:
            telemetry.rate_limited("budget")
            raise RateLimited(
                f"This key's monthly budget of {key.monthly_token_budget} tokens is used up",
                retry_after=seconds_to_next_month(now), code="insufficient_quota")

    def _check_spend(self, key: KeyInfo, now: datetime) -> None:
        # Spend is known as of the key's load (refreshed every key cache TTL); a load from an
        # earlier month says nothing about this one.
        budget = key.spend_budget_usd
        if budget is None or key.month != _month(now) or key.month_spend_usd < budget:
            return
        telemetry.rate_limited("budget")
        raise RateLimited(f"This key's monthly spend budget of ${budget:,.2f} is reached",
                          retry_after=seconds_to_next_month(now), code="insufficient_quota")

    def used(self, key: KeyInfo, now: datetime | None = None) -> int:
        """Tokens of ``key`` this month, as far as this process knows."""
        month = _month(now or self._clock())
        spent = self._spent.get((key.id, month), 0)
        if key.month != month:  # loaded last month: the database part is from then
            return spent
        # The database part already holds what was flushed before the load: count only what
        # this process served after it.
        loaded, baseline = self._baseline.get(key.id, (None, 0))
        if loaded != key.loaded_at:
            baseline = spent
            self._baseline[key.id] = (key.loaded_at, spent)
        return key.month_tokens + spent - baseline

    def spend(self, key: KeyInfo, tokens: int) -> None:
        """Add an answered request's tokens to ``key``'s month."""
        if key.monthly_token_budget is None or tokens <= 0:
            return
        slot = (key.id, _month(self._clock()))
        self._spent[slot] = self._spent.get(slot, 0) + tokens
