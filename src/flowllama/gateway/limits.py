"""Per-key requests and tokens per minute, enforced without I/O on the request path.

Each key has two sliding-window counters (the usual two-bucket approximation: the previous
minute's count weighted by how much of it still overlaps the last 60 s, plus this minute's).
A request is admitted when one more request fits ``rpm`` and the tokens already spent in the
window are below ``tpm``; tokens are added when the answer's usage is known, so one request can
overshoot ``tpm`` by its own size. Refusals are 429 with ``Retry-After`` (seconds until the
window has room again).

Sharing across processes: a minute's count is the sum of two parts, what this process counted
and has not synced yet (``local``) and the totals of all gateways, this one's synced part
included, as :class:`~flowllama.gateway.limit_sync.LimitSync` last read them from the
``rate_counts`` table (``shared``). The sync takes :meth:`RateLimiter.pending`, writes it, and
hands the totals back through :meth:`RateLimiter.synced`, both on the event loop's thread.
Without a sync (one process, unit tests) ``shared`` stays empty and the limiter is exactly a
per-process one. Minutes are wall-clock minutes since the epoch so that processes agree on them
(their clocks must agree to within about a second, as NTP gives).

Accuracy across N processes: each process sees the others' traffic as of its last sync, so the
overshoot beyond a limit is what the other N-1 processes admit for the key that this process has
not yet read back: about one sync interval of each one's traffic for the key (up to two when the
syncs happen to be out of phase), and never more than each of them would admit alone, so at
worst N times the limit for a burst faster than one interval. Plus, for ``tpm``, the one answer
per process that crosses it. See ``docs/gateway.md`` ("Limits").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flowllama.errors import RateLimited
from flowllama.gateway import telemetry
from flowllama.gateway.keys import KeyInfo

WINDOW_S = 60.0
REQUESTS = "requests"
TOKENS = "tokens"

RowKey = tuple[str, str, int]
"""(API key id, ``REQUESTS`` or ``TOKENS``, minute since the epoch): one shared counter."""


def minute_of(now: float) -> int:
    """The window (minute since the epoch) that ``now`` falls in."""
    return int(now // WINDOW_S)


class SlidingWindow:
    """An approximate count over the last 60 s, from per-minute counts: this process's not yet
    synced ones (``local``) plus all processes' totals as last synced (``shared``)."""

    __slots__ = ("local", "shared")

    def __init__(self) -> None:
        self.local: dict[int, float] = {}
        self.shared: dict[int, float] = {}

    def _buckets(self, now: float) -> tuple[float, float, float]:
        """(previous minute's count, this minute's count, fraction of this minute elapsed)."""
        window = minute_of(now)
        previous = self.local.get(window - 1, 0.0) + self.shared.get(window - 1, 0.0)
        current = self.local.get(window, 0.0) + self.shared.get(window, 0.0)
        return previous, current, (now - window * WINDOW_S) / WINDOW_S

    def estimate(self, now: float) -> float:
        previous, current, elapsed = self._buckets(now)
        return previous * (1 - elapsed) + current

    def add(self, now: float, amount: float) -> None:
        window = minute_of(now)
        self.local[window] = self.local.get(window, 0.0) + amount
        if len(self.local) > 2:
            self.forget_before(window)

    def forget_before(self, window: int) -> None:
        """Drop local counts of minutes that no longer count at ``window`` (nor sync)."""
        for minute in [m for m in self.local if m not in (window - 1, window)]:
            del self.local[minute]

    def unsynced(self, window: int) -> dict[int, int]:
        """Whole local counts of ``window`` and the minute before it (what a sync pushes)."""
        self.forget_before(window)
        return {minute: int(n) for minute, n in self.local.items() if int(n) > 0}

    def mark_synced(self, minute: int, amount: int) -> None:
        """``amount`` of ``minute``'s local count is now part of the shared totals."""
        left = self.local.get(minute, 0.0) - amount
        if left > 0:
            self.local[minute] = left
        else:
            self.local.pop(minute, None)

    def retry_after(self, now: float, limit: float, need: float) -> int:
        """Whole seconds until ``need`` more fits under ``limit`` (at least 1), assuming no
        more traffic in the meantime (other processes may still add some)."""
        previous, current, fraction = self._buckets(now)
        elapsed = fraction * WINDOW_S
        room = limit - need - current
        if room >= 0 and previous > 0:  # the previous minute decays enough this minute
            wait = WINDOW_S * (1 - room / previous) - elapsed
        else:  # only when this minute's count has decayed enough in the next one
            decay = WINDOW_S * (1 - (limit - need) / current) if current else 0.0
            wait = WINDOW_S - elapsed + max(0.0, decay)
        return max(1, math.ceil(wait))


@dataclass(frozen=True, slots=True)
class Pending:
    """What one sync writes and reads: taken by :meth:`RateLimiter.pending`."""

    minute: int
    counts: dict[RowKey, int]
    keys: tuple[str, ...]  # keys seen in this or the previous minute: their totals are read


class RateLimiter:
    """Admits or refuses a key's requests against its ``rpm`` and ``tpm``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._requests: dict[str, SlidingWindow] = {}
        self._tokens: dict[str, SlidingWindow] = {}
        self._seen: dict[str, int] = {}  # key id -> minute it was last admitted or spent

    def admit(self, key: KeyInfo) -> None:
        """Count one request of ``key`` or raise ``RateLimited`` (nothing counted then)."""
        if key.rpm is None and key.tpm is None:
            return
        now = self.clock()
        self._seen[key.id] = minute_of(now)
        if key.rpm is not None:
            requests = self._requests.setdefault(key.id, SlidingWindow())
            if requests.estimate(now) + 1 > key.rpm:
                telemetry.rate_limited("requests")
                raise RateLimited(f"Rate limit of {key.rpm} requests per minute reached",
                                  retry_after=requests.retry_after(now, key.rpm, 1),
                                  code="rate_limit_exceeded")
        if key.tpm is not None:
            tokens = self._tokens.get(key.id)
            if tokens is not None and tokens.estimate(now) >= key.tpm:
                telemetry.rate_limited("tokens")
                raise RateLimited(f"Rate limit of {key.tpm} tokens per minute reached",
                                  retry_after=tokens.retry_after(now, key.tpm, 1),
                                  code="rate_limit_exceeded")
        if key.rpm is not None:
            self._requests[key.id].add(now, 1)

    def spend(self, key: KeyInfo, tokens: int) -> None:
        """Add the tokens of an answered request to ``key``'s window."""
        if key.tpm is not None and tokens > 0:
            now = self.clock()
            self._seen[key.id] = minute_of(now)
            self._tokens.setdefault(key.id, SlidingWindow()).add(now, tokens)

    def pending(self) -> Pending:
        """The unsynced counts of the current and previous minute, and the keys whose shared
        totals the sync should read back. Keys idle here for over a minute are forgotten
        (their windows no longer count anything). Call on the event loop's thread."""
        minute = minute_of(self.clock())
        for key_id in [k for k, seen in self._seen.items() if seen < minute - 1]:
            del self._seen[key_id]
            self._requests.pop(key_id, None)
            self._tokens.pop(key_id, None)
        counts: dict[RowKey, int] = {}
        for kind, windows in ((REQUESTS, self._requests), (TOKENS, self._tokens)):
            for key_id, window in windows.items():
                for at, n in window.unsynced(minute).items():
                    counts[(key_id, kind, at)] = n
        return Pending(minute, counts, tuple(self._seen))

    def synced(self, pending: Pending, totals: dict[RowKey, int]) -> None:
        """Take a sync's result: ``pending.counts`` are now in the shared ``totals``, which
        replace the shared counts of ``pending.keys`` (a missing row is zero)."""
        kinds = {REQUESTS: self._requests, TOKENS: self._tokens}
        for (key_id, kind, minute), n in pending.counts.items():
            window = kinds[kind].get(key_id)
            if window is not None:
                window.mark_synced(minute, n)
        shared: dict[tuple[str, str], dict[int, float]] = {}
        for (key_id, kind, minute), n in totals.items():
            shared.setdefault((key_id, kind), {})[minute] = float(n)
        for key_id in pending.keys:
            for kind, windows in kinds.items():
                found = shared.get((key_id, kind))
                if found is not None:  # other processes counted it even if this one has not
                    windows.setdefault(key_id, SlidingWindow()).shared = found
                elif key_id in windows:
                    windows[key_id].shared = {}
