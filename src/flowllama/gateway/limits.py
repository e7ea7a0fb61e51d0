"""Per-key requests and tokens per minute, enforced in this gateway process without I/O.

Each key has two sliding-window counters (the usual two-bucket approximation: the previous
minute's count weighted by how much of it still overlaps the last 60 s, plus this minute's).
A request is admitted when one more request fits ``rpm`` and the tokens already spent in the
window are below ``tpm``; tokens are added when the answer's usage is known, so one request can
overshoot ``tpm`` by its own size. Refusals are 429 with ``Retry-After`` (seconds until the
window has room again).

Accuracy across processes: each gateway counts only what it served, so with N gateways behind
a load balancer a key can get up to N times its limit in the worst case (about its limit when the
balancer spreads a key's requests evenly and each process enforces ``limit / N``; see
``docs/gateway.md``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flowllama.errors import RateLimited
from flowllama.gateway.keys import KeyInfo

WINDOW_S = 60.0


class SlidingWindow:
    """An approximate count over the last 60 s."""

    __slots__ = ("current", "previous", "window")

    def __init__(self) -> None:
        self.window = 0
        self.current = 0.0
        self.previous = 0.0

    def _roll(self, now: float) -> float:
        """Move to ``now``'s window; returns the fraction of it already elapsed."""
        window = int(now // WINDOW_S)
        if window != self.window:
            self.previous = self.current if window == self.window + 1 else 0.0
            self.current = 0.0
            self.window = window
        return (now - window * WINDOW_S) / WINDOW_S

    def estimate(self, now: float) -> float:
        elapsed = self._roll(now)
        return self.previous * (1 - elapsed) + self.current

    def add(self, now: float, amount: float) -> None:
        self._roll(now)
        self.current += amount

    def retry_after(self, now: float, limit: float, need: float) -> int:
        """Whole seconds until ``need`` more fits under ``limit`` (at least 1)."""
        elapsed = self._roll(now) * WINDOW_S
        room = limit - need - self.current
        if room >= 0 and self.previous > 0:  # the previous minute decays enough this minute
            wait = WINDOW_S * (1 - room / self.previous) - elapsed
        else:  # only when this minute's count has decayed enough in the next one
            decay = WINDOW_S * (1 - (limit - need) / self.current) if self.current else 0.0
            wait = WINDOW_S - elapsed + max(0.0, decay)
        return max(1, math.ceil(wait))


class RateLimiter:
    """Admits or refuses a key's requests against its ``rpm`` and ``tpm``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, SlidingWindow] = {}
        self._tokens: dict[str, SlidingWindow] = {}

    def admit(self, key: KeyInfo) -> None:
        """Count one request of ``key`` or raise ``RateLimited`` (nothing counted then)."""
        now = self._clock()
        if key.rpm is not None:
            requests = self._requests.setdefault(key.id, SlidingWindow())
            if requests.estimate(now) + 1 > key.rpm:
                raise RateLimited(f"Rate limit of {key.rpm} requests per minute reached",
                                  retry_after=requests.retry_after(now, key.rpm, 1),
                                  code="rate_limit_exceeded")
        if key.tpm is not None:
            tokens = self._tokens.get(key.id)
            if tokens is not None and tokens.estimate(now) >= key.tpm:
                raise RateLimited(f"Rate limit of {key.tpm} tokens per minute reached",
                                  retry_after=tokens.retry_after(now, key.tpm, 1),
                                  code="rate_limit_exceeded")
        if key.rpm is not None:
            self._requests[key.id].add(now, 1)

    def spend(self, key: KeyInfo, tokens: int) -> None:
        """Add the tokens of an answered request to ``key``'s window."""
        if key.tpm is not None and tokens > 0:
            self._tokens.setdefault(key.id, SlidingWindow()).add(self._clock(), tokens)
