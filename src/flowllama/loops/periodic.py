"""A step an HTTP process runs in the background every few seconds on its serving event loop:
the gateway's usage flushes, limit syncs and load reports, the api role's accounts worker.

It runs on the serving event loop, so a gateway step sees the in-memory counters without
locks; a step that needs the database hands that part to a worker thread itself. A step that
raises — a database outage, a bug — is logged with its error and retried after a capped,
jittered backoff (the loop never ends by itself); every round is recorded on the loop's beat,
so ``/ready`` and ``flowllama_loop_last_success_timestamp_seconds`` show a loop that stopped
succeeding. ``stop`` runs the step once more (unless ``step_at_stop`` is off), so a clean
shutdown leaves nothing unwritten.
"""

from __future__ import annotations

import asyncio
import contextlib

from flowllama.db.outage import is_unavailable
from flowllama.logging import get_logger
from flowllama.loops import Beat, LoopHealth

log = get_logger(__name__)


class StepFailed(Exception):
    """Raised by a step that has already logged why it failed: back off without a traceback.
    Raise it ``from`` the error that made the step fail: the beat (and ``/ready``) records
    that error, not this wrapper."""


class Periodic:
    """Runs :meth:`step` every ``interval_s`` between :meth:`start` and :meth:`stop`: the
    first round after one interval, or at once with ``step_at_start``; a last round in
    :meth:`stop` with ``step_at_stop``."""

    name = "periodic"
    step_at_start = False
    step_at_stop = True

    def __init__(self, interval_s: float, loops: LoopHealth | None = None) -> None:
        self.interval_s = interval_s
        self.loops = loops or LoopHealth()
        self.beat: Beat | None = None
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> None:
        """One round of the work; raise to have the round counted as failed and backed off."""
        raise NotImplementedError

    def start(self) -> None:
        self.beat = self.loops.register(self.name)
        self._task = asyncio.get_running_loop().create_task(self._run(self.beat),
                                                           name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.beat is not None:
            self.loops.retire(self.beat)
        if not self.step_at_stop:
            return
        try:
            await self.step()
        except Exception as exc:  # the last round failed: nothing more can be done now
            log.warning("loop.final_step_failed", loop=self.name, error=str(exc))

    async def _run(self, beat: Beat) -> None:
        delay = 0.0 if self.step_at_start else self.interval_s
        try:
            while True:
                await asyncio.sleep(delay)
                delay = await self._round(beat)
        except asyncio.CancelledError:
            raise
        except BaseException:
            beat.died()
            log.exception("loop.died", loop=self.name)
            raise

    async def _round(self, beat: Beat) -> float:
        """One step; returns how long to wait before the next."""
        try:
            await self.step()
        except Exception as exc:  # logged, backed off, retried: the loop must not end
            delay = beat.failed(_cause(exc))
            log.warning("loop.step_failed", loop=self.name, attempt=beat.failures,
                        retry_in_s=round(delay, 2), error=beat.last_error,
                        exc_info=None if isinstance(exc, StepFailed) or is_unavailable(exc)
                        else exc)
            return max(delay, self.interval_s)
        beat.succeeded()
        return self.interval_s


def _cause(exc: Exception) -> BaseException:
    """The error to record for a failed round: what a :class:`StepFailed` was raised from."""
    if isinstance(exc, StepFailed) and exc.__cause__ is not None:
        return exc.__cause__
    return exc
