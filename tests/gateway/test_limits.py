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


def test_shared_totals_count_with_unsynced_local_counts() -> None:
    clock = Clock()  # 600.0: the start of minute 10
    limiter = RateLimiter(clock)
    key = replace(KEY, rpm=5)
    limiter.admit(key)
    limiter.admit(key)
    pending = limiter.pending()
    assert pending.minute == 10 and pending.keys == ("k1",)
    assert pending.counts == {("k1", "requests", 10): 2}
    limiter.admit(key)  # after the snapshot: stays local
    # Another process served 2 more: the totals include this one's synced 2.
    limiter.synced(pending, {("k1", "requests", 10): 4})
    assert limiter.pending().counts == {("k1", "requests", 10): 1}
    wait = _refused(limiter, key)  # 4 shared + 1 local = 5
    assert 1 <= wait <= 120
    clock.now += wait
    limiter.admit(key)


def test_shared_tokens_refuse_a_key_this_process_never_served() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    key = replace(KEY, tpm=100)
    limiter.admit(key)  # seen here, nothing spent here yet
    limiter.synced(limiter.pending(), {("k1", "tokens", 10): 150})
    wait = _refused(limiter, key)
    assert 60 <= wait <= 120  # this minute's 150 must decay below 100 in the next one
    clock.now += wait
    limiter.admit(key)


def test_pending_keeps_only_counts_that_still_matter_and_forgets_idle_keys() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    key = replace(KEY, rpm=10, tpm=1000)
    limiter.admit(key)
    limiter.spend(key, 30)
    clock.now += 60  # minute 11: minute 10 is the previous one and still counts
    assert limiter.pending().counts == {("k1", "requests", 10): 1, ("k1", "tokens", 10): 30}
    clock.now += 60  # minute 12: nothing of minute 10 counts any more
    pending = limiter.pending()
    assert pending.counts == {} and pending.keys == ()


def test_a_missing_row_clears_old_shared_totals() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    key = replace(KEY, rpm=3)
    limiter.admit(key)
    limiter.synced(limiter.pending(), {("k1", "requests", 10): 3})
    _refused(limiter, key)
    limiter.synced(limiter.pending(), {})  # the rows were pruned or the counts reset
    limiter.admit(key)
