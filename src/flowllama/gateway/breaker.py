"""A circuit breaker per deployment, so one stuck tenant cannot tie up the gateway.

``failures`` consecutive failed requests to a deployment (connection refused or dropped, a
timeout before the answer or between stream chunks, a 5xx other than 503, a 4xx the client
cannot act on: :func:`~flowllama.gateway.proxy.upstream_fault`) open its circuit for
``cooldown_s``: requests to it are refused at once (503 with ``Retry-After``) instead of each
waiting out a timeout. After the cooldown one request is let through as a probe (half-open):
its success closes the circuit, its failure opens it again for another cooldown. A probe that
never reports (its client went away) stops blocking the next probe after one cooldown.
State is per gateway process and in memory: the hot path does no I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Circuit:
    failures: int = 0
    open_until: float = 0.0  # closed while 0
    probe_until: float = 0.0  # a probe is out until then


class CircuitBreaker:
    """Deployment id → circuit (see the module doc)."""

    def __init__(self, failures: int, cooldown_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def wait_s(self, deployment_id: str) -> float:
        """0 when a request to ``deployment_id`` may go now (claiming the probe when the
        circuit is half-open), else the seconds until it may be tried again."""
        circuit = self._circuits.get(deployment_id)
        if circuit is None or circuit.open_until == 0.0:
            return 0.0
        now = self._clock()
        if now < circuit.open_until:
            return circuit.open_until - now
        if now < circuit.probe_until:
            return circuit.probe_until - now
        circuit.probe_until = now + self.cooldown_s
        return 0.0

    def retry_after(self, deployment_id: str) -> int:
        """Whole seconds for a ``Retry-After`` header (at least 1)."""
        return max(1, math.ceil(self.wait_s(deployment_id)))

    def succeeded(self, deployment_id: str) -> None:
        """A request was answered: the circuit closes and the count starts again."""
        if deployment_id in self._circuits:
            del self._circuits[deployment_id]

    def failed(self, deployment_id: str) -> None:
        """A request failed: count it; open the circuit at the threshold or after a probe."""
        circuit = self._circuits.setdefault(deployment_id, _Circuit())
        circuit.failures += 1
        if circuit.open_until or circuit.failures >= self.failures:
            circuit.open_until = self._clock() + self.cooldown_s
            circuit.probe_until = 0.0

    def is_open(self, deployment_id: str) -> bool:
        """Whether requests to ``deployment_id`` are being refused (for tests and metrics)."""
        circuit = self._circuits.get(deployment_id)
        return circuit is not None and circuit.open_until > self._clock()
