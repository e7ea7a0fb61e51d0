"""How long a failing background loop waits before its next try.

Exponential from ``base_s``, capped at ``max_s``, with "equal jitter": half the delay is fixed
and half random, so many processes that lost one database together do not come back in step,
and no retry comes sooner than half the nominal delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """The delay after ``failures`` consecutive failures (1 for the first)."""

    base_s: float = 1.0
    max_s: float = 30.0

    def nominal_s(self, failures: int) -> float:
        """The delay before jitter: ``base_s * 2 ** (failures - 1)``, at most ``max_s``."""
        exponent = min(max(failures, 1) - 1, 32)  # bounded, so the float never overflows
        return min(self.max_s, self.base_s * 2.0 ** exponent)

    def delay_s(self, failures: int) -> float:
        """A jittered delay in ``[nominal / 2, nominal]``."""
        nominal = self.nominal_s(failures)
        return nominal / 2 + random.uniform(0, nominal / 2)  # noqa: S311 - spreading load, not security
