"""The worker loop over the real database queue, on SQLite and PostgreSQL: retries with
backoff, dead letters that fail the deployment, and nudges delivered twice."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from flowllama.agent import replacement as replacement_module
from flowllama.agent.reconciler import DrainPolicy, Reconciler
from flowllama.agent.worker import AgentWorker
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance, User
from flowllama.domain.lifecycle import Desired, Status
from flowllama.providers.base import Provisioner, Unsupported
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.queue import DatabaseQueue, RetryPolicy
from flowllama.queue.nudges import nudge
from flowllama.services.deployment_status import change_status_and_notify
from memory_servers import MemoryServers


def _deployment(database: Database) -> Deployment:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="chat", model="local/tiny",
                                context_size=512, cloud="local")
        session.add(deployment)
        session.flush()
        return deployment


def _worker(database: Database, queue: DatabaseQueue, provisioner: Provisioner) -> AgentWorker:
    registry = ProvisionerRegistry()
    registry.register(provisioner.kind, lambda: provisioner)
    reconciler = Reconciler(database, registry, lease_s=30, kinds={"local": provisioner.kind},
                            drain=DrainPolicy(timeout_s=5, route_ttl_s=0, report_interval_s=0))
    return AgentWorker(database, queue, reconciler, poll_s=0.05, wait_s=0.0)


@pytest.fixture
def queue(database: Database) -> DatabaseQueue:
    # No backoff: retries are due at once, so the test does not sleep.
    return DatabaseQueue(database, policy=RetryPolicy(max_attempts=3, base_s=0.0, max_s=0.0))


def _drain(worker: AgentWorker, limit: int = 20) -> int:
    handled = 0
    while handled < limit and worker.run_once():
        handled += 1
    return handled


def _row(database: Database, deployment_id: str) -> tuple[Deployment, list[Instance]]:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        instances = session.scalars(select(Instance).where(
            Instance.deployment_id == deployment_id).order_by(Instance.slot)).all()
        return row, list(instances)


def test_fails_twice_then_succeeds(database: Database, queue: DatabaseQueue) -> None:
    provisioner = MemoryServers(failures=2)
    deployment = _deployment(database)
    nudge(queue, deployment)
    assert _drain(_worker(database, queue, provisioner)) == 3

    row, instances = _row(database, deployment.id)
    assert row.status == Status.RUNNING
    assert provisioner.creates == 3 and len(instances) == 1
    assert queue.list_dead() == []


def test_always_failing_job_is_dead_lettered_and_fails_the_deployment(
        database: Database, queue: DatabaseQueue) -> None:
    provisioner = MemoryServers(failures=99)
    deployment = _deployment(database)
    nudge(queue, deployment)
    _drain(_worker(database, queue, provisioner))

    [dead] = queue.list_dead()
    assert dead.deployment_id == deployment.id and dead.attempts == 3
    assert "the cloud said no" in (dead.last_error or "")
    row, instances = _row(database, deployment.id)
    assert row.status == Status.FAILED and instances == []
    assert "the cloud said no" in (row.status_message or "")


def test_a_permanent_error_is_dead_lettered_at_once(database: Database,
                                                   queue: DatabaseQueue) -> None:
    provisioner = MemoryServers(failures=1, error=Unsupported("no GPU on this machine"))
    deployment = _deployment(database)
    nudge(queue, deployment)
    _drain(_worker(database, queue, provisioner))

    [dead] = queue.list_dead()
    assert dead.attempts == 1 and provisioner.creates == 1
    assert _row(database, deployment.id)[0].status == Status.FAILED


def test_a_nudge_delivered_twice_creates_one_server(database: Database,
                                                    queue: DatabaseQueue) -> None:
    provisioner = MemoryServers(create_s=0.5)
    deployment = _deployment(database)
    for _ in range(2):  # two deliveries of the same work, as after a lost ack
        queue.enqueue(deployment.user_id, "reconcile", deployment_id=deployment.id)
    # Both jobs belong to one user, so the queue hands the second out only once the first is
    # settled; the second delivery must then find the server and change nothing.
    workers = [_worker(database, queue, provisioner) for _ in range(2)]
    threads = [threading.Thread(target=_drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    row, instances = _row(database, deployment.id)
    assert row.status == Status.RUNNING
    assert provisioner.creates == 1 and len(instances) == 1


def test_sweep_nudges_rows_that_drifted(database: Database, queue: DatabaseQueue) -> None:
    provisioner = MemoryServers()
    deployment = _deployment(database)  # created without a nudge: as if it was lost
    worker = _worker(database, queue, provisioner)
    assert worker.sweep(older_than_s=0) == 1
    _drain(worker)
    assert _row(database, deployment.id)[0].status == Status.RUNNING
    with database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.desired_state = Desired.DELETED
    assert worker.sweep(older_than_s=0) == 1
    _drain(worker)
    row, instances = _row(database, deployment.id)
    assert row.status == Status.DELETED and provisioner.live == {}
    assert all(instance.terminated_at is not None for instance in instances)
    assert ("forget", deployment.id) in provisioner.effects
    assert worker.sweep(older_than_s=0) == 0


def test_a_server_that_never_comes_up_is_retried_then_failed(
        database: Database, queue: DatabaseQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replacement_module, "STARTING_TIMEOUT_S", 0)
    provisioner = MemoryServers()
    provisioner.serving = False
    deployment = _deployment(database)
    nudge(queue, deployment)
    _drain(_worker(database, queue, provisioner))

    [dead] = queue.list_dead()
    assert "did not come up" in (dead.last_error or "") and "still booting" in (
        dead.last_error or "")
    assert _row(database, deployment.id)[0].status == Status.FAILED


def test_a_dead_leftover_is_replaced_not_adopted(database: Database,
                                                 queue: DatabaseQueue) -> None:
    provisioner = MemoryServers()
    deployment = _deployment(database)
    provisioner.add(deployment.id)
    provisioner.serving = False  # found, but its server is dead
    worker = _worker(database, queue, provisioner)
    nudge(queue, deployment)
    worker.run_once()
    assert provisioner.creates == 1


def _make_unhealthy(database: Database, deployment_id: str) -> None:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        change_status_and_notify(session, row, Status.UNHEALTHY,
                                 "3 consecutive failed health checks",
                                 message="health check failed")


def test_an_unhealthy_deployment_is_healed_with_a_new_instance(
        database: Database, queue: DatabaseQueue) -> None:
    provisioner = MemoryServers()
    deployment = _deployment(database)
    worker = _worker(database, queue, provisioner)
    nudge(queue, deployment)
    _drain(worker)
    _make_unhealthy(database, deployment.id)
    nudge(queue, deployment)
    _drain(worker)

    row, instances = _row(database, deployment.id)
    assert row.status == Status.RUNNING and row.heal_attempts == 1
    assert provisioner.creates == 2
    assert [i.terminated_at is None for i in instances] == [False, True]
    with database.session() as session:
        events = session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.deployment_id == deployment.id).order_by(DeploymentEvent.id)).all()
    moves = [(e.from_status, e.to_status) for e in events if e.from_status != e.to_status]
    assert moves[-4:] == [("running", "unhealthy"), ("unhealthy", "healing"),
                          ("healing", "starting"), ("starting", "running")]
    healed = next(e for e in events if e.reason.startswith("healed"))
    assert healed.data["healed"] is True
    # Blue/green: the replacement (a new slot) first, the old server drained after the switch.
    reasons = [e.reason for e in events]
    tail = reasons[reasons.index(healed.reason) - 3:]
    assert tail[0].startswith("server s1 created on") and tail[1].startswith("replacement created")
    assert tail[2] == "first server draining: its replacement is up"
    assert tail[-1] == "first server drained and destroyed"
    assert [i.slot for i in instances] == ["", "s1"]


def test_healing_gives_up_after_the_maximum(database: Database, queue: DatabaseQueue) -> None:
    provisioner = MemoryServers()
    deployment = _deployment(database)
    worker = _worker(database, queue, provisioner)
    nudge(queue, deployment)
    _drain(worker)
    for _ in range(3):
        _make_unhealthy(database, deployment.id)
        nudge(queue, deployment)
        _drain(worker)
    _make_unhealthy(database, deployment.id)
    nudge(queue, deployment)
    _drain(worker)
    row, _ = _row(database, deployment.id)
    assert row.status == Status.FAILED and row.heal_attempts == 3
    assert row.status_message == "health check failed"
