"""Periodic: steps every interval while started, and once more at stop."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from flowllama.loops import Backoff, LoopHealth
from flowllama.loops.periodic import Periodic
from flowllama.metrics import REGISTRY


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


class Flaky(Periodic):
    """Raises a non-database error on its first two steps, then succeeds."""

    name = "flaky"

    def __init__(self, loops: LoopHealth) -> None:
        super().__init__(0.01, loops)
        self.calls = 0

    async def step(self) -> None:
        self.calls += 1
        if self.calls <= 2:
            raise ValueError("not a database error")


def test_a_step_that_raises_is_logged_backed_off_and_retried() -> None:
    loops = LoopHealth(Backoff(base_s=0.01, max_s=0.02), stale_after_s=60)

    async def scenario() -> Flaky:
        periodic = Flaky(loops)
        periodic.start()
        for _ in range(500):
            if periodic.calls >= 4:
                break
            await asyncio.sleep(0.01)
        assert periodic.beat is not None
        assert periodic.beat.alive and periodic.beat.failures == 0
        assert periodic.beat.last_success_at is not None
        await periodic.stop()
        return periodic

    with capture_logs() as logs:
        periodic = asyncio.run(scenario())
    assert periodic.calls >= 4  # it kept running after the errors
    failures = [entry for entry in logs if entry["event"] == "loop.step_failed"]
    assert len(failures) == 2 and "not a database error" in failures[0]["error"]
    assert loops.problems() == {}
    sample = REGISTRY.get_sample_value("flowllama_loop_last_success_timestamp_seconds",
                                       {"loop": "flaky"})
    assert sample is not None and sample > 0


def test_a_loop_failing_for_too_long_is_a_problem() -> None:
    loops = LoopHealth(Backoff(base_s=0.01, max_s=0.01), stale_after_s=0.05)

    class Broken(Periodic):
        name = "broken"

        async def step(self) -> None:
            raise RuntimeError("database down")

    async def scenario() -> tuple[dict[str, str], dict[str, str]]:
        periodic = Broken(0.01, loops)
        periodic.start()
        for _ in range(500):
            if loops.problems():
                break
            await asyncio.sleep(0.01)
        problems = loops.problems(), loops.problems(detail=True)
        await periodic.stop()
        return problems

    public, detail = asyncio.run(scenario())
    assert public["broken"].endswith(": RuntimeError")  # the class only, for anyone
    assert "RuntimeError: database down" in detail["broken"]  # the text, for operators
    assert loops.problems() == {}  # a stopped loop no longer counts
