"""Sliding-window rpm and tpm: admit within the limit, 429 with a truthful Retry-After beyond
it, recovery as the window slides, keys counted separately."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flowllama.errors import RateLimited
from flowllama.gateway.keys import KeyInfo
from flowllama.gateway.limits import RateLimiter, SlidingWindow

KEY = KeyInfo(id="k1", user_id="u", key_hash="h", models=None, rpm=None, tpm=None,
              monthly_token_budget=None, expires_at=None, revoked=False)


class Clock:
    def __init__(self, now: float = 600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _refused(limiter: RateLimiter, key: KeyInfo) -> int:
    with pytest.raises(RateLimited) as caught:
        limiter.admit(key)
    assert caught.value.code == "rate_limit_exceeded" and caught.value.status_code == 429
    assert caught.value.headers["Retry-After"] == str(caught.value.retry_after)
    return caught.value.retry_after


def test_rpm_refuses_beyond_the_limit_then_recovers_when_retry_after_says() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    key = replace(KEY, rpm=3)
    for _ in range(3):
        limiter.admit(key)
    wait = _refused(limiter, key)
    assert 1 <= wait <= 120
    clock.now += wait - 1.5
    _refused(limiter, key)
    clock.now += 1.5
    limiter.admit(key)


def test_refusals_are_not_counted_and_keys_are_separate() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    key, other = replace(KEY, rpm=1), replace(KEY, id="k2", rpm=1)
    limiter.admit(key)
    for _ in range(5):
        _refused(limiter, key)
    limiter.admit(other)
    clock.now += 120  # two windows later: all forgotten
    limiter.admit(key)


def test_tpm_counts_spent_tokens() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    key = replace(KEY, tpm=100)
    limiter.admit(key)
    limiter.spend(key, 60)
    limiter.admit(key)
    limiter.spend(key, 60)  # one answer may overshoot
    wait = _refused(limiter, key)
    clock.now += wait
    limiter.admit(key)


def test_no_limits_no_counting() -> None:
    limiter = RateLimiter(Clock())
    for _ in range(1000):
        limiter.admit(KEY)
        limiter.spend(KEY, 10_000)


def test_sliding_window_weights_the_previous_minute() -> None:
    window = SlidingWindow()
    window.add(600.0, 10)  # window 10, at its start
    assert window.estimate(630.0) == 10
    assert window.estimate(690.0) == pytest.approx(5)  # half of the previous minute overlaps
    assert window.estimate(780.0) == 0  # two windows later
