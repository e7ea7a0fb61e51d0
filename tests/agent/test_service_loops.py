"""The agent's loops are on its process's LoopHealth, the lease heartbeat included: ``/ready``
names a heartbeat that fails (with the error) and the last-success metric shows its beats."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from flowllama.agent.service import AgentService
from flowllama.db.session import Database
from flowllama.loops import Backoff, LoopHealth
from flowllama.metrics import REGISTRY
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.queue import DatabaseQueue


def _wait_for(check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_the_heartbeat_is_a_loop_on_ready(database: Database) -> None:
    loops = LoopHealth(Backoff(base_s=0.01, max_s=0.02), stale_after_s=0)
    agent = AgentService(database, DatabaseQueue(database), ProvisionerRegistry(), workers=1,
                         lease_s=0.3, poll_s=0.05, loops=loops)
    started = time.time()
    agent.start()
    try:
        names = {beat.name for beat in loops.beats()}
        assert names == {"agent-worker-1", "agent-sweeper", "agent-heartbeat"}
        [heart] = [beat for beat in loops.beats() if beat.name == "agent-heartbeat"]
        _wait_for(lambda: heart.last_success_at is not None, "a heartbeat")
        sample = REGISTRY.get_sample_value("flowllama_loop_last_success_timestamp_seconds",
                                           {"loop": "agent-heartbeat"})
        assert sample is not None and sample >= started

        renew = agent.reconciler.renew_held

        def unreachable() -> None:
            raise ConnectionError("database went away")

        agent.reconciler.renew_held = unreachable  # type: ignore[method-assign]
        _wait_for(lambda: "agent-heartbeat" in loops.problems(), "the failure on /ready")
        assert "database went away" in loops.problems(detail=True)["agent-heartbeat"]
        agent.reconciler.renew_held = renew  # type: ignore[method-assign]
        _wait_for(lambda: "agent-heartbeat" not in loops.problems(), "the heartbeat to resume")
    finally:
        agent.stop(grace_s=5)
    assert loops.beats() == []  # stopped on purpose: no longer counted


# The thread's end is the point of the test: its unhandled SystemExit is expected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_heartbeat_ended_by_what_no_beat_survives_is_dead_on_ready(database: Database
                                                                     ) -> None:
    """Not an ``Exception`` (``SystemExit`` ends a thread without a word): the heartbeat is
    gone, so ``/ready`` must say so instead of reading its last good beat."""
    loops = LoopHealth(Backoff(base_s=0.01, max_s=0.02), stale_after_s=0)
    agent = AgentService(database, DatabaseQueue(database), ProvisionerRegistry(), workers=1,
                         lease_s=0.3, poll_s=0.05, loops=loops)

    def ended() -> None:
        raise SystemExit("gone")

    agent.reconciler.renew_held = ended  # type: ignore[method-assign]
    agent.start()
    try:
        _wait_for(lambda: "agent-heartbeat" in loops.problems(), "the dead heartbeat on /ready")
        assert agent._heart is not None
        agent._heart.join(5)
        assert not agent._heart.is_alive()
    finally:
        agent.stop(grace_s=5)
