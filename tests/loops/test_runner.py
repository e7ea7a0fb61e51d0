"""``supervise``: a failing round is logged, backed off and retried, so a loop outlives any
failure; and the agent's loops, run under it, resume by themselves after PostgreSQL returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import func, select
from structlog.testing import capture_logs

from db_proxy import CuttableProxy
from flowllama.agent.service import AgentService
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance, User
from flowllama.domain.lifecycle import Status
from flowllama.loops import Backoff, LoopHealth, supervise
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.queue import DatabaseQueue, RetryPolicy
from flowllama.queue.nudges import nudge
from memory_servers import MemoryServers

FAST = Backoff(base_s=0.05, max_s=0.2)


def _wait_for(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_failing_step_is_retried_until_it_succeeds() -> None:
    loops = LoopHealth(FAST, stale_after_s=60)
    beat = loops.register("flaky")
    stopping = threading.Event()
    calls: list[int] = []

    def step() -> bool:
        calls.append(1)
        if len(calls) <= 3:
            raise ConnectionError("database went away")
        stopping.set()
        return False

    with capture_logs() as logs:
        supervise(beat, step, stopping, idle_s=0.01)
    assert len(calls) == 4 and beat.alive and beat.failures == 0
    assert beat.last_success_at is not None
    failures = [e for e in logs if e["event"] == "loop.step_failed"]
    assert [e["attempt"] for e in failures] == [1, 2, 3]
    assert all(0 < e["retry_in_s"] <= FAST.max_s for e in failures)


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(base_s=1.0, max_s=8.0)
    assert [backoff.nominal_s(n) for n in (1, 2, 3, 4, 5, 100)] == [1, 2, 4, 8, 8, 8]
    delays = {backoff.delay_s(4) for _ in range(50)}
    assert all(4.0 <= d <= 8.0 for d in delays) and len(delays) > 1


def _new_deployment(db: Database, queue: DatabaseQueue, user_id: str, name: str) -> str:
    with db.session() as session:
        deployment = Deployment(user_id=user_id, name=name, model="local/tiny",
                                context_size=512, cloud="local")
        session.add(deployment)
        session.flush()
    nudge(queue, deployment)
    return deployment.id


def _status(db: Database, deployment_id: str) -> str | None:
    with db.session() as session:
        row = session.get(Deployment, deployment_id)
        return None if row is None else row.status


def test_agent_loops_survive_a_postgresql_outage_and_resume(
        outage_db_url: str, pg_proxy: CuttableProxy) -> None:
    db = Database(outage_db_url)
    queue = DatabaseQueue(db, lease_s=3, policy=RetryPolicy(max_attempts=50, base_s=0.1,
                                                              max_s=0.5))
    provisioner = MemoryServers(create_s=1.0)
    registry = ProvisionerRegistry()
    registry.register(provisioner.kind, lambda: provisioner)
    loops = LoopHealth(FAST, stale_after_s=60)
    agent = AgentService(db, queue, registry, kinds={"local": provisioner.kind}, workers=2,
                         lease_s=3, poll_s=0.05, sweep_interval_s=0.2, wait_s=0.1, loops=loops)
    with db.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
    agent.start()
    try:
        first = _new_deployment(db, queue, user.id, "first")
        _wait_for(lambda: provisioner.creates == 1, "the first create to start")
        pg_proxy.cut()  # in the middle of the first deployment's create
        # The heartbeat touches the database only while a step holds leases: it may not fail.
        _wait_for(lambda: all(b.failures > 0 for b in loops.beats()
                              if b.name != "agent-heartbeat"), "every loop to fail")
        time.sleep(1.5)
        assert all(beat.alive for beat in loops.beats())
        pg_proxy.restore()
        second = _new_deployment(db, queue, user.id, "second")  # no restart in between
        for deployment_id in (first, second):
            _wait_for(lambda d=deployment_id: _status(db, d) == Status.RUNNING,  # type: ignore[misc]
                      f"{deployment_id} running")
    finally:
        agent.stop(grace_s=5)
    assert provisioner.creates == 2 and len(provisioner.live) == 2  # adopted, not re-created
    with db.session() as session:
        for deployment_id in (first, second):
            instances = session.scalar(select(func.count()).select_from(Instance).where(
                Instance.deployment_id == deployment_id))
            runs = session.scalar(select(func.count()).select_from(DeploymentEvent).where(
                DeploymentEvent.deployment_id == deployment_id,
                DeploymentEvent.to_status == Status.RUNNING))
            assert (instances, runs) == (1, 1)  # no transition lost or doubled
    assert loops.problems() == {}
    db.dispose()
