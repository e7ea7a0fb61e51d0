"""Pick an instance: fewest requests in flight from this gateway, instances that just failed last.

Counts are per gateway process (no coordination on the hot path); with several gateways each
balances its own share, which converges to the same spread. An instance whose connection
failed is tried only after the others for ``cooldown_s``, so a dead server costs one failed
connect per cooldown instead of one per request until the route cache drops it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Sequence

from flowllama.gateway.routes import Upstream


class Balancer:
    """Least outstanding requests, with a cooldown for instances that failed."""

    def __init__(self, cooldown_s: float, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - tie-breaking, not security
        self._outstanding: dict[str, int] = {}
        self._failed_until: dict[str, float] = {}

    def pick(self, candidates: Sequence[Upstream], exclude: Collection[str] = ()
             ) -> Upstream | None:
        """The best candidate not in ``exclude`` (instance ids), or None when none is left."""
        now = self._clock()
        best: list[Upstream] = []
        best_rank: tuple[bool, int] | None = None
        for upstream in candidates:
            if upstream.instance_id in exclude:
                continue
            cooling = self._failed_until.get(upstream.instance_id, 0.0) > now
            rank = (cooling, self._outstanding.get(upstream.instance_id, 0))
            if best_rank is None or rank < best_rank:
                best, best_rank = [upstream], rank
            elif rank == best_rank:
                best.append(upstream)
        if not best:
            return None
        # Random among equals so idle instances share the load instead of the first taking all.
        return best[0] if len(best) == 1 else self._rng.choice(best)

    def acquire(self, instance_id: str) -> None:
        """Count a request in flight on ``instance_id``."""
        self._outstanding[instance_id] = self._outstanding.get(instance_id, 0) + 1

    def release(self, instance_id: str) -> None:
        """The request on ``instance_id`` is finished (answered, failed or cancelled)."""
        left = self._outstanding.get(instance_id, 0) - 1
        if left > 0:
            self._outstanding[instance_id] = left
        else:
            self._outstanding.pop(instance_id, None)

    def mark_failed(self, instance_id: str) -> None:
        """``instance_id`` refused a connection or was unavailable: try it last for a while."""
        self._failed_until[instance_id] = self._clock() + self._cooldown_s

    def mark_ok(self, instance_id: str) -> None:
        self._failed_until.pop(instance_id, None)

    def cooling(self, instance_id: str) -> bool:
        """Whether ``instance_id`` failed within the cooldown (so it is tried last)."""
        return self._failed_until.get(instance_id, 0.0) > self._clock()

    def outstanding(self, instance_id: str) -> int:
        return self._outstanding.get(instance_id, 0)
