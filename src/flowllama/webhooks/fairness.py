"""Who may have a delivery in flight: at most ``limit`` attempts per receiver host and per
tenant at once, and at most ``total`` in all (the dispatcher's send threads).

A receiver that never answers therefore holds ``limit`` send threads for one timeout each,
never all of them: every other tenant's deliveries are claimed and sent meanwhile.
"""

from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import urlsplit


def receiver_of(url: str) -> str:
    """The receiver a URL reaches: its host and port (what one slow server is)."""
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or parts.scheme}"
    except ValueError:
        return url


class InFlight:
    """Counts attempts in flight per receiver and per tenant (thread-safe)."""

    def __init__(self, limit: int, total: int) -> None:
        self.limit = limit
        self.total = total
        self._receivers: Counter[str] = Counter()
        self._tenants: Counter[str] = Counter()
        self._count = 0
        self._lock = threading.Lock()

    def free(self) -> int:
        with self._lock:
            return self.total - self._count

    def busy_tenants(self) -> set[str]:
        """Tenants at their limit (their due deliveries are not even read)."""
        with self._lock:
            return {tenant for tenant, n in self._tenants.items() if n >= self.limit}

    def full_receivers(self) -> set[str]:
        """Receivers at their limit (their rows are not read until a slot frees)."""
        with self._lock:
            return {receiver for receiver, n in self._receivers.items() if n >= self.limit}

    def acquire(self, receiver: str, tenant: str) -> bool:
        """Take a slot for one attempt; False when the receiver, tenant or total is full."""
        with self._lock:
            if (self._count >= self.total or self._receivers[receiver] >= self.limit
                    or self._tenants[tenant] >= self.limit):
                return False
            self._receivers[receiver] += 1
            self._tenants[tenant] += 1
            self._count += 1
            return True

    def release(self, receiver: str, tenant: str) -> None:
        with self._lock:
            self._receivers[receiver] -= 1
            self._tenants[tenant] -= 1
            self._count -= 1
            self._receivers += Counter()  # drop zero counts, so memory stays bounded
            self._tenants += Counter()
