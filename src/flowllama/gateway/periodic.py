"""A step the gateway runs in the background every few seconds (usage flushes, limit syncs).

It runs on the serving event loop, so it sees the in-memory counters without locks; a step
that needs the database hands that part to a worker thread itself. ``stop`` runs the step once
more, so a clean shutdown leaves nothing unwritten.
"""

from __future__ import annotations

import asyncio
import contextlib


class Periodic:
    """Runs :meth:`step` every ``interval_s`` between :meth:`start` and :meth:`stop`."""

    name = "periodic"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> None:
        """One round of the work; must log and swallow its own failures."""
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.step()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.step()
