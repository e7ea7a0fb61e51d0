"""A step whose lease another agent took touches no server, on SQLite and PostgreSQL.

Each test starts a step as the reconciler does (lease taken and held, row read), then lets
the lease expire and another agent take it, as happens to an agent frozen (SIGSTOP) or
stalled past its lease; then the step runs on. Writes were already fenced; these tests are
about the provisioner calls no database fence covers: a teardown (its instances and the
``find_all`` orphan sweep), a finished drain and a create must each end in ``LeaseLost``
before anything is destroyed or created, so the new holder's servers survive.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from flowllama.agent import leases
from flowllama.agent.leases import LeaseLost
from flowllama.agent.reconciler import Reconciler
from flowllama.agent.steps import Snapshot
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, User
from flowllama.db.types import utcnow
from flowllama.errors import ProviderError, StepAbandoned
from flowllama.providers.base import Handle
from flowllama.providers.registry import ProvisionerRegistry
from memory_servers import MemoryServers


@pytest.fixture
def servers() -> MemoryServers:
    return MemoryServers()


@pytest.fixture
def reconciler(database: Database, servers: MemoryServers) -> Reconciler:
    registry = ProvisionerRegistry()
    registry.register(MemoryServers.kind, lambda: servers)
    return Reconciler(database, registry, lease_s=30, kinds={"local": MemoryServers.kind})


def _deployment(database: Database, status: str, desired: str) -> str:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="chat", model="local/tiny",
                                context_size=512, cloud="local", status=status,
                                desired_state=desired)
        session.add(deployment)
        session.flush()
        return deployment.id


def _instance(database: Database, handle: Handle, **fields: Any) -> str:
    with database.session() as session:
        values = {"status": "healthy", **fields}
        row = Instance(deployment_id=handle.deployment_id, provider=handle.kind,
                       handle=handle.to_dict(), cloud="local", region="localhost",
                       instance_type="local-process", spot=False, price_per_hour=0.0,
                       slot=handle.data["slot"], **values)
        session.add(row)
        session.flush()
        return row.id


def _take_over(database: Database, deployment_id: str) -> str:
    """The lease expires and another agent takes it; its token."""
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.lease_expires_at = utcnow() - timedelta(seconds=1)
    token = leases.acquire(database, deployment_id, 30)
    assert token is not None
    return token


def _step_started(database: Database, reconciler: Reconciler, deployment_id: str) -> Snapshot:
    """What ``reconcile`` has done when a step begins: the lease held, the row read."""
    token = leases.acquire(database, deployment_id, 30)
    assert token is not None
    reconciler.held.hold(deployment_id, token)
    snapshot = reconciler._load(deployment_id)
    assert snapshot is not None
    return snapshot


def _live_rows(database: Database, deployment_id: str) -> int:
    with database.session() as session:
        return len(session.scalars(select(Instance).where(
            Instance.deployment_id == deployment_id, Instance.terminated_at.is_(None))).all())


def test_a_teardown_whose_lease_was_taken_destroys_nothing(
        database: Database, reconciler: Reconciler, servers: MemoryServers) -> None:
    deployment_id = _deployment(database, "deleting", "deleted")
    _instance(database, servers.add(deployment_id, ""))
    servers.add(deployment_id, "s1")  # no row: the orphan sweep's to find
    snapshot = _step_started(database, reconciler, deployment_id)
    _take_over(database, deployment_id)

    with pytest.raises(LeaseLost):
        reconciler._teardown(snapshot)
    assert servers.effects == []
    assert servers.slots() == ["", "s1"]
    assert _live_rows(database, deployment_id) == 1
    assert reconciler.held.token(deployment_id) is None  # the step's lease is dropped


def test_the_orphan_sweep_of_a_teardown_whose_lease_was_taken_destroys_nothing(
        database: Database, reconciler: Reconciler, servers: MemoryServers) -> None:
    # The stop was undone and the new holder has started a server: it has no row yet
    # (creation under way), and a resumed teardown's ``find_all`` sees it.
    deployment_id = _deployment(database, "stopping", "running")
    snapshot = _step_started(database, reconciler, deployment_id)
    _take_over(database, deployment_id)
    servers.add(deployment_id, "")  # the new holder's

    with pytest.raises(LeaseLost):
        reconciler._teardown(snapshot)
    assert servers.effects == [] and servers.slots() == [""]


def test_a_finished_drain_whose_lease_was_taken_destroys_nothing(
        database: Database, reconciler: Reconciler, servers: MemoryServers) -> None:
    deployment_id = _deployment(database, "running", "running")
    long_ago = utcnow() - timedelta(hours=1)  # past any drain timeout
    _instance(database, servers.add(deployment_id, ""), status="draining",
              draining_since=long_ago)
    snapshot = _step_started(database, reconciler, deployment_id)
    _take_over(database, deployment_id)

    with pytest.raises(LeaseLost):
        reconciler._finish_drains(deployment_id, snapshot.draining)
    assert servers.effects == [] and servers.slots() == [""]
    assert _live_rows(database, deployment_id) == 1


def test_an_abandoned_replacement_whose_lease_was_taken_is_not_destroyed(
        database: Database, reconciler: Reconciler, servers: MemoryServers) -> None:
    deployment_id = _deployment(database, "healing", "running")
    _instance(database, servers.add(deployment_id, "s1"), status="starting")
    snapshot = _step_started(database, reconciler, deployment_id)
    _take_over(database, deployment_id)

    with pytest.raises(LeaseLost):
        reconciler._abandon(deployment_id, snapshot.instances[0], "superseded")
    assert servers.effects == [] and servers.slots() == ["s1"]


def test_a_create_whose_lease_was_taken_mid_step_creates_nothing(
        database: Database, reconciler: Reconciler, servers: MemoryServers) -> None:
    deployment_id = _deployment(database, "provisioning", "running")
    # The agent stalls in the middle of the step (after reading the row, while it looks for
    # a server to adopt) and another agent takes the deployment meanwhile.
    servers.on_find = lambda: _take_over(database, deployment_id)

    with pytest.raises(LeaseLost):
        reconciler.reconcile(deployment_id)
    assert servers.effects == [] and servers.live == {}
    assert _live_rows(database, deployment_id) == 0


def test_a_step_that_keeps_its_lease_still_tears_down(
        database: Database, reconciler: Reconciler, servers: MemoryServers) -> None:
    deployment_id = _deployment(database, "deleting", "deleted")
    _instance(database, servers.add(deployment_id, ""))
    servers.add(deployment_id, "s1")

    reconciler.reconcile(deployment_id)
    assert sorted(servers.effects) == [("destroy", ""), ("destroy", "s1"),
                                       ("forget", deployment_id)]
    assert servers.live == {} and _live_rows(database, deployment_id) == 0


@pytest.mark.parametrize("lost", [LeaseLost("lease on d1 was lost"), StepAbandoned("gone")])
def test_a_lost_lease_passes_every_provider_failure_handler(lost: StepAbandoned) -> None:
    # Provider-failure handlers clean up (stop a half-prepared runtime, abandon a replacement,
    # roll back a stack, fail a roll): a lost step must get through each of them untouched,
    # without a guard of its own in front of every ``except ProviderError``.
    with pytest.raises(StepAbandoned):
        try:
            raise lost
        except ProviderError:
            pytest.fail("a ProviderError handler caught a lost lease and would clean up")
