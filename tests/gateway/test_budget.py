"""Monthly budgets: the database's month at load plus this process's spend since that load,
no double counting across reloads, a fresh month, 429 insufficient_quota until next month."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from flowllama.errors import RateLimited
from flowllama.gateway.budget import MonthlyBudget, seconds_to_next_month
from flowllama.gateway.keys import KeyInfo

NOW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
KEY = KeyInfo(id="k1", user_id="u", key_hash="h", models=None, rpm=None, tpm=None,
              monthly_token_budget=1000, expires_at=None, revoked=False, month="2026-11",
              month_tokens=900, loaded_at=1.0)


def test_budget_counts_the_database_and_this_process_then_refuses_until_next_month() -> None:
    budget = MonthlyBudget(clock=lambda: NOW)
    budget.check(KEY)
    budget.spend(KEY, 60)
    budget.check(KEY)
    budget.spend(KEY, 60)
    assert budget.used(KEY) == 1020
    with pytest.raises(RateLimited) as caught:
        budget.check(KEY)
    assert caught.value.code == "insufficient_quota"
    assert caught.value.retry_after == 3600


def test_a_reload_that_includes_flushed_tokens_is_not_double_counted() -> None:
    budget = MonthlyBudget(clock=lambda: NOW)
    budget.check(KEY)
    budget.spend(KEY, 50)
    reloaded = replace(KEY, month_tokens=950, loaded_at=2.0)  # the 50 were flushed
    assert budget.used(reloaded) == 950
    budget.spend(reloaded, 10)
    assert budget.used(reloaded) == 960


def test_a_new_month_starts_from_zero_and_keys_without_budget_are_free() -> None:
    now = [NOW]
    budget = MonthlyBudget(clock=lambda: now[0])
    budget.spend(KEY, 500)
    now[0] = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)
    assert budget.used(KEY) == 0  # loaded in November: its database part is November's
    free = replace(KEY, monthly_token_budget=None)
    budget.spend(free, 10**9)
    budget.check(free)


def test_seconds_to_next_month_rolls_the_year() -> None:
    assert seconds_to_next_month(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == 1
    assert seconds_to_next_month(datetime(2026, 2, 28, 0, 0, tzinfo=UTC)) == 86400
