"""Each background loop's heartbeat, kept per process (one :class:`LoopHealth` per platform).

A loop records every successful round and every failure on its :class:`Beat`. A loop is a
*problem* for ``/ready`` when its thread or task ended without being stopped, or when it has
failed without a success in between for longer than ``stale_after_s`` (a loop that is merely
busy in a long step is not a problem). Why a loop is a problem names its last error's class
only (``OperationalError``), for the public ``/ready``; with ``detail`` also its text, which for a
database error can hold SQL, parameters and host names (for operators: logs, the metrics
listener). The time of the last success is exported as
``flowllama_loop_last_success_timestamp_seconds{loop}`` and failures as
``flowllama_loop_failures_total{loop}``. The first registration of a loop name in this process
sets its last-success series to that moment, so a loop that has never succeeded (it started
during a database outage, or fails every round) has a series that ages and the
``FlowLlamaLoopStalled`` alert can see it; a later registration of the same name (a restarted
loop) leaves the series alone, so it never moves back before a real success.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flowllama.loops.backoff import Backoff
from flowllama.metrics.instruments import LOOP_FAILURES, LOOP_LAST_SUCCESS

# Loop names whose last-success series this process has started (the series is process-wide).
_EXPORTED: set[str] = set()
_EXPORTED_LOCK = threading.Lock()


def _export_start(name: str) -> None:
    """Start ``name``'s last-success series at now, once per process (see the module doc)."""
    with _EXPORTED_LOCK:
        if name in _EXPORTED:
            return
        _EXPORTED.add(name)
        LOOP_LAST_SUCCESS.labels(name).set(time.time())


@dataclass
class Beat:
    """One loop's record; its methods are called by the loop's own thread or task."""

    name: str
    backoff: Backoff
    stale_after_s: float
    failures: int = 0
    failing_since: float | None = None
    last_success_at: float | None = None  # wall-clock seconds
    last_error: str | None = None  # "Class: text", cut short: for logs and operators
    last_error_class: str | None = None  # "Class" alone: safe to show anyone
    alive: bool = True
    retired: bool = False

    def succeeded(self) -> None:
        self.failures = 0
        self.failing_since = None
        self.last_error = None
        self.last_error_class = None
        self.last_success_at = time.time()
        LOOP_LAST_SUCCESS.labels(self.name).set(self.last_success_at)

    def failed(self, exc: BaseException) -> float:
        """Record a failure; returns how long to wait before the next try."""
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.last_error_class = type(exc).__name__
        self.last_error = f"{self.last_error_class}: {exc}"[:300]
        LOOP_FAILURES.labels(self.name).inc()
        return self.backoff.delay_s(self.failures)

    def died(self) -> None:
        """The loop ended without being asked to stop."""
        self.alive = False

    def problem(self, now: float | None = None, *, detail: bool = False) -> str | None:
        """Why this loop makes its process not ready, or None; the last error's class, and
        with ``detail`` its text."""
        if self.retired:
            return None
        if not self.alive:
            return "stopped unexpectedly"
        current = time.monotonic() if now is None else now
        if self.failing_since is not None and current - self.failing_since > self.stale_after_s:
            error = self.last_error if detail else self.last_error_class
            return f"failing for {current - self.failing_since:.0f} s: {error}"
        return None


@dataclass
class LoopHealth:
    """The beats of one process's loops, by name (a new beat of a name replaces the old)."""

    backoff: Backoff = field(default_factory=Backoff)
    stale_after_s: float = 120.0
    _beats: dict[str, Beat] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, name: str) -> Beat:
        """A new beat for loop ``name`` (replacing any of that name); starts its series."""
        beat = Beat(name, self.backoff, self.stale_after_s)
        _export_start(name)
        with self._lock:
            self._beats[name] = beat
        return beat

    def retire(self, beat: Beat) -> None:
        """A loop that was stopped on purpose no longer counts."""
        beat.retired = True
        with self._lock:
            if self._beats.get(beat.name) is beat:
                del self._beats[beat.name]

    def beats(self) -> list[Beat]:
        with self._lock:
            return list(self._beats.values())

    def problems(self, *, detail: bool = False) -> dict[str, str]:
        """``{loop name: why}`` for every loop that makes this process not ready (see
        :meth:`Beat.problem` for ``detail``)."""
        now = time.monotonic()
        found = {beat.name: beat.problem(now, detail=detail) for beat in self.beats()}
        return {name: why for name, why in found.items() if why is not None}
