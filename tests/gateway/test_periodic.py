"""Periodic: steps every interval while started, and once more at stop."""

from __future__ import annotations

import asyncio

from flowllama.gateway.periodic import Periodic


class Counting(Periodic):
    def __init__(self) -> None:
        super().__init__(0.01)
        self.steps = 0

    async def step(self) -> None:
        self.steps += 1


def test_steps_while_running_and_once_more_at_stop() -> None:
    async def scenario() -> tuple[int, int]:
        periodic = Counting()
        periodic.start()
        while periodic.steps < 3:
            await asyncio.sleep(0.01)
        await periodic.stop()
        stopped = periodic.steps
        await asyncio.sleep(0.05)  # nothing runs after stop
        return stopped, periodic.steps

    stopped, later = asyncio.run(scenario())
    assert stopped >= 4 and later == stopped
