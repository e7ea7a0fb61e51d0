"""The one loop every background thread runs: step, record, wait, and back off on failure.

``step`` returns True when it found work (run again at once) and False when idle (wait
``idle_s``). Any exception — a database outage, a bug — is logged with the error, counted on
the beat, and followed by a capped, jittered backoff; the loop then tries again, so it resumes
by itself once the cause is gone. Only ``stopping`` ends it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from flowllama.db.outage import is_unavailable
from flowllama.logging import get_logger
from flowllama.loops.health import Beat

log = get_logger(__name__)


def supervise(beat: Beat, step: Callable[[], bool], stopping: threading.Event, *,
              idle_s: float) -> None:
    """Run ``step`` until ``stopping`` is set (blocking; call it as a thread's target)."""
    try:
        while not stopping.is_set():
            try:
                busy = step()
            except Exception as exc:  # the loop must outlive any single failure
                delay = beat.failed(exc)
                # An outage is expected and says all in its message; a bug gets its traceback.
                log.warning("loop.step_failed", loop=beat.name, attempt=beat.failures,
                            retry_in_s=round(delay, 2), error=beat.last_error,
                            exc_info=None if is_unavailable(exc) else exc)
                stopping.wait(delay)
                continue
            beat.succeeded()
            if not busy:
                stopping.wait(idle_s)
    finally:
        if not stopping.is_set():
            beat.died()
            log.error("loop.died", loop=beat.name)
