"""The agent's blue/green machinery on SQLite and PostgreSQL, against an in-memory provisioner
that keeps one server per slot (as the contract asks): replicas up and down, a generation
roll and a failed one, sleep and wake, a spot reclaim replaced on the next allowed offer, and a
heal whose replacement cannot be created while the old server still serves."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from flowllama.agent.placement import spec_of
from flowllama.agent.reconciler import DrainPolicy, Outcome, Reconciler
from flowllama.agent.worker import AgentWorker
from flowllama.db.autopilot_tables import GatewayLoad
from flowllama.db.session import Database
from flowllama.db.tables import (
    Deployment,
    DeploymentEvent,
    Instance,
    User,
    Webhook,
    WebhookDelivery,
)
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import NoCapacity, ProvisioningFailed
from flowllama.providers.base import (
    Capabilities,
    Capability,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
)
from flowllama.providers.local import LOCAL_PLACEMENT
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.queue import DatabaseQueue
from flowllama.services.deployment_status import change_status_and_notify

KINDS = {"local": "slots", "aws": "slots", "gcp": "slots"}


class Slots(Provisioner):
    """Servers in memory by server key; ``fail`` makes ``create`` raise (for specs whose
    context size is in ``fail_contexts``, or always), ``reclaimed`` marks a server taken back."""

    kind: ClassVar[str] = "slots"

    def __init__(self) -> None:
        self.live: dict[str, tuple[Handle, Placement, DeploymentSpec]] = {}
        self.reclaimed: set[str] = set()
        self.dead: set[str] = set()
        self.fail: Exception | None = None
        self.fail_contexts: set[int] | None = None
        self.creates: list[tuple[str, Placement]] = []
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(clouds=frozenset(KINDS), features=frozenset({Capability.SPOT}))

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        if self.fail is not None and (self.fail_contexts is None
                                      or spec.context_size in self.fail_contexts):
            raise self.fail
        with self._lock:
            self.creates.append((spec.server_key, placement))
            handle = Handle(self.kind, spec.deployment_id, f"fl-{spec.server_key}",
                            {"slot": spec.slot, "context": spec.context_size})
            self.live[spec.server_key] = (handle, placement, spec)
        return handle

    def find(self, spec: DeploymentSpec) -> Handle | None:
        found = self.live.get(spec.server_key)
        return None if found is None else found[0]

    def find_all(self, spec: DeploymentSpec) -> list[Handle]:
        return [h for h, _, s in self.live.values() if s.deployment_id == spec.deployment_id]

    def refresh(self, handle: Handle) -> ResourceState:
        key = _key(handle)
        if key in self.reclaimed:
            return ResourceState(exists=False, reclaimed=True, detail="reclaimed")
        exists = key in self.live
        running = exists and key not in self.dead
        return ResourceState(exists=exists, running=running,
                             endpoint_url=f"http://127.0.0.1:9/{key}/v1")

    def destroy(self, handle: Handle) -> None:
        self.live.pop(_key(handle), None)


def _key(handle: Handle) -> str:
    slot = handle.data.get("slot") or ""
    return f"{handle.deployment_id}-{slot}" if slot else handle.deployment_id


@pytest.fixture
def slots() -> Slots:
    return Slots()


@pytest.fixture
def reconciler(database: Database, slots: Slots) -> Reconciler:
    registry = ProvisionerRegistry()
    registry.register("slots", lambda: slots)
    return Reconciler(database, registry, lease_s=60, kinds=KINDS,
                      drain=DrainPolicy(timeout_s=30, route_ttl_s=0, report_interval_s=0))


def _deployment(database: Database, **fields: Any) -> str:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        session.add(Webhook(user_id=user.id, url="https://hooks.example.com/x", secret="s",
                            events=["deployment.scaled", "deployment.replaced",
                                    "deployment.spot_reclaimed", "deployment.sleeping"]))
        values: dict[str, Any] = {"name": "chat", "model": "local/tiny", "context_size": 512,
                                  "cloud": "local", **fields}
        deployment = Deployment(user_id=user.id, **values)
        session.add(deployment)
        session.flush()
        return deployment.id


def _settle(reconciler: Reconciler, deployment_id: str, rounds: int = 10) -> Outcome:
    """Reconcile until done (a WAIT is a re-nudge; drains here need no waiting)."""
    outcome = Outcome.WAIT
    for _ in range(rounds):
        outcome = reconciler.reconcile(deployment_id)
        if outcome is Outcome.DONE:
            break
    return outcome


def _update(database: Database, deployment_id: str, **fields: Any) -> None:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        for name, value in fields.items():
            setattr(row, name, value)


def _live(database: Database, deployment_id: str) -> list[Instance]:
    with database.session() as session:
        return list(session.scalars(select(Instance).where(
            Instance.deployment_id == deployment_id, Instance.terminated_at.is_(None))
            .order_by(Instance.slot)).all())


def _row(database: Database, deployment_id: str) -> Deployment:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row


def _reasons(database: Database, deployment_id: str) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(DeploymentEvent.reason).where(
            DeploymentEvent.deployment_id == deployment_id).order_by(DeploymentEvent.at,
                                                                     DeploymentEvent.id)))


def _hooks(database: Database) -> list[str]:
    with database.session() as session:
        return sorted(session.scalars(select(WebhookDelivery.event)))


def _unhealthy(database: Database, deployment_id: str) -> None:
    """What the monitor's verdict writes after failed health checks."""
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        change_status_and_notify(session, row, Status.UNHEALTHY,
                                 "3 consecutive failed health checks", message="timed out")


def test_replicas_scale_up_in_new_slots_then_down_newest_first(
        database: Database, reconciler: Reconciler, slots: Slots) -> None:
    deployment_id = _deployment(database, replicas_min=1, replicas_max=3, replicas_desired=2)
    assert _settle(reconciler, deployment_id) is Outcome.DONE
    assert _row(database, deployment_id).status == Status.RUNNING
    assert [(i.slot, i.status) for i in _live(database, deployment_id)] == [
        ("", "healthy"), ("s1", "healthy")]
    assert "scaled from 1 to 2 replicas" in _reasons(database, deployment_id)

    _update(database, deployment_id, replicas_desired=1)
    assert _settle(reconciler, deployment_id) is Outcome.DONE
    assert [i.slot for i in _live(database, deployment_id)] == [""]
    assert sorted(slots.live) == [deployment_id]
    reasons = _reasons(database, deployment_id)
    assert "server s1 draining: scaled down to 1 replicas" in reasons
    assert reasons[-1] == "server s1 drained and destroyed"
    assert _hooks(database) == ["deployment.scaled", "deployment.scaled"]


def test_a_generation_roll_builds_the_new_server_before_the_old_goes(
        database: Database, reconciler: Reconciler, slots: Slots) -> None:
    deployment_id = _deployment(database)
    _settle(reconciler, deployment_id)
    _update(database, deployment_id, generation=1, context_size=1024)
    assert _settle(reconciler, deployment_id) is Outcome.DONE

    [server] = _live(database, deployment_id)
    assert (server.slot, server.generation, server.status) == ("s1", 1, "healthy")
    assert [spec.context_size for _, _, spec in slots.live.values()] == [1024]
    reasons = _reasons(database, deployment_id)
    created = next(i for i, r in enumerate(reasons) if r.startswith("server s1 created"))
    switched = reasons.index("switched to generation 1")
    assert created < switched < reasons.index("first server drained and destroyed")
    assert _hooks(database) == ["deployment.replaced"]
    assert _row(database, deployment_id).status == Status.RUNNING


def test_a_failed_roll_keeps_the_old_server_and_is_not_retried(
        database: Database, reconciler: Reconciler, slots: Slots) -> None:
    deployment_id = _deployment(database)
    _settle(reconciler, deployment_id)
    slots.fail, slots.fail_contexts = ProvisioningFailed("no such context"), {4096}
    _update(database, deployment_id, generation=1, context_size=4096)
    assert _settle(reconciler, deployment_id) is Outcome.DONE

    row = _row(database, deployment_id)
    assert row.status == Status.RUNNING and row.failed_generation == 1
    assert "no such context" in (row.rollout_error or "")
    [server] = _live(database, deployment_id)
    assert (server.slot, server.generation, server.status) == ("", 0, "healthy")
    attempts = len(slots.creates)
    assert _settle(reconciler, deployment_id) is Outcome.DONE
    assert len(slots.creates) == attempts  # not retried until the generation changes


def test_sleep_releases_every_server_and_a_start_wakes_it(
        database: Database, reconciler: Reconciler, slots: Slots) -> None:
    deployment_id = _deployment(database, replicas_desired=2, replicas_max=2,
                                idle_timeout_s=300)
    _settle(reconciler, deployment_id)
    _update(database, deployment_id, desired_state=Desired.SLEEPING)
    assert _settle(reconciler, deployment_id) is Outcome.DONE

    row = _row(database, deployment_id)
    assert row.status == Status.SLEEPING and row.asleep_since is not None
    assert slots.live == {} and _live(database, deployment_id) == []
    assert _reasons(database, deployment_id)[-1] == "asleep after 300s without traffic"
    assert "deployment.sleeping" in _hooks(database)

    _update(database, deployment_id, desired_state=Desired.RUNNING)
    assert _settle(reconciler, deployment_id) is Outcome.DONE
    row = _row(database, deployment_id)
    assert row.status == Status.RUNNING and row.asleep_since is None
    assert row.asleep_seconds > 0
    assert "started" in _reasons(database, deployment_id)
    assert len(_live(database, deployment_id)) == 2

    _update(database, deployment_id, desired_state=Desired.SLEEPING)
    _settle(reconciler, deployment_id)
    _update(database, deployment_id, desired_state=Desired.STOPPED)
    _settle(reconciler, deployment_id)
    assert _row(database, deployment_id).status == Status.STOPPED
    assert _reasons(database, deployment_id)[-1] == "stopped while asleep"


def _offer(cloud: str, region: str, spot: bool, price: float) -> dict[str, Any]:
    return {"cloud": cloud, "region": region, "zone": None, "instance_type": "g6.xlarge",
            "spot": spot, "price_per_hour": price, "gpu": None, "gpu_count": 0}


def test_a_reclaimed_spot_server_is_replaced_on_the_next_allowed_offer(
        database: Database, reconciler: Reconciler, slots: Slots) -> None:
    candidates = [_offer("aws", "us-east-1", True, 0.10), _offer("aws", "us-east-1", False, 0.30),
                  _offer("gcp", "us-central1", True, 0.15), _offer("aws", "us-west-2", True, 0.20)]
    deployment_id = _deployment(database, cloud="auto", model="llama3.2:1b", gpu="none",
                                spot_tolerance="high", estimate={"candidates": candidates})
    _settle(reconciler, deployment_id)
    [first] = _live(database, deployment_id)
    assert (first.cloud, first.region, first.spot) == ("aws", "us-east-1", True)

    slots.reclaimed.add(deployment_id)  # the cloud took it back
    _unhealthy(database, deployment_id)
    assert _settle(reconciler, deployment_id) is Outcome.DONE

    [replacement] = _live(database, deployment_id)
    assert (replacement.cloud, replacement.region, replacement.spot) == ("aws", "us-west-2", True)
    row = _row(database, deployment_id)
    assert row.status == Status.RUNNING
    [excluded] = row.excluded_offers or []
    assert (excluded["cloud"], excluded["region"], excluded["spot"]) == ("aws", "us-east-1", True)
    assert "spot server reclaimed by aws" in _reasons(database, deployment_id)
    assert _hooks(database).count("deployment.spot_reclaimed") == 1


def test_a_heal_that_cannot_create_a_replacement_keeps_the_old_server(
        database: Database, reconciler: Reconciler, slots: Slots) -> None:
    deployment_id = _deployment(database)
    _settle(reconciler, deployment_id)
    slots.fail = NoCapacity("the machine is full")
    _unhealthy(database, deployment_id)
    assert _settle(reconciler, deployment_id) is Outcome.DONE

    row = _row(database, deployment_id)
    assert row.status == Status.RUNNING and "the machine is full" in (row.status_message or "")
    assert "heal failed; the old server keeps serving" in _reasons(database, deployment_id)
    [server] = _live(database, deployment_id)
    assert server.slot == "" and deployment_id in slots.live


def test_teardown_destroys_servers_of_every_slot_even_unrecorded_ones(
        database: Database, reconciler: Reconciler, slots: Slots) -> None:
    deployment_id = _deployment(database)
    _settle(reconciler, deployment_id)
    row = _row(database, deployment_id)
    slots.create(spec_of(row, "s3"), LOCAL_PLACEMENT)  # a crash before its row was written
    _update(database, deployment_id, desired_state=Desired.STOPPED)
    assert _settle(reconciler, deployment_id) is Outcome.DONE
    assert slots.live == {} and _row(database, deployment_id).status == Status.STOPPED


def test_a_draining_server_waits_for_the_requests_gateways_report_in_flight(
        database: Database, slots: Slots) -> None:
    registry = ProvisionerRegistry()
    registry.register("slots", lambda: slots)
    reconciler = Reconciler(database, registry, lease_s=60, kinds=KINDS,
                            drain=DrainPolicy(timeout_s=600, route_ttl_s=2, report_interval_s=5))
    deployment_id = _deployment(database, replicas_max=2, replicas_desired=2)
    _settle(reconciler, deployment_id)
    _update(database, deployment_id, replicas_desired=1)
    assert reconciler.reconcile(deployment_id) is Outcome.WAIT  # within the settle time
    [draining] = [i for i in _live(database, deployment_id) if i.draining_since is not None]
    assert (draining.slot, draining.status) == ("s1", "draining")

    with database.session() as session:
        row = session.get(Instance, draining.id)
        assert row is not None
        row.draining_since = utcnow() - timedelta(seconds=30)  # the routes moved on long ago
        session.add(GatewayLoad(gateway_id="gw-1", instance_id=draining.id,
                                deployment_id=deployment_id, in_flight=1, updated_at=utcnow()))
        session.add(GatewayLoad(gateway_id="gw-gone", instance_id=draining.id,
                                deployment_id=deployment_id, in_flight=4,
                                updated_at=utcnow() - timedelta(minutes=5)))
    assert reconciler.reconcile(deployment_id) is Outcome.WAIT  # one stream still running
    assert len(_live(database, deployment_id)) == 2

    with database.session() as session:
        load = session.get(GatewayLoad, ("gw-1", draining.id))
        assert load is not None
        load.in_flight, load.updated_at = 0, utcnow()
    assert reconciler.reconcile(deployment_id) is Outcome.DONE  # the stale report counts 0
    assert [i.slot for i in _live(database, deployment_id)] == [""]


def test_the_sweep_leaves_sleepers_alone_and_nudges_rows_still_draining(
        database: Database, slots: Slots) -> None:
    registry = ProvisionerRegistry()
    registry.register("slots", lambda: slots)
    reconciler = Reconciler(database, registry, lease_s=60, kinds=KINDS,
                            drain=DrainPolicy(timeout_s=600, route_ttl_s=2, report_interval_s=5))
    queue = DatabaseQueue(database)
    worker = AgentWorker(database, queue, reconciler, poll_s=0.05, wait_s=0.0)
    deployment_id = _deployment(database, replicas_max=2, replicas_desired=2)
    _settle(reconciler, deployment_id)
    _update(database, deployment_id, replicas_desired=1)
    reconciler.reconcile(deployment_id)  # s1 now drains; suppose the re-nudge was lost
    with database.session() as session:
        asleep = Deployment(user_id=_row(database, deployment_id).user_id, name="zz",
                            model="local/tiny", context_size=512, cloud="local",
                            status=Status.SLEEPING, desired_state=Desired.SLEEPING)
        session.add(asleep)
    assert worker.sweep(older_than_s=-60) == 1  # the draining one; the sleeper is settled
