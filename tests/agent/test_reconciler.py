"""The reconciler drives real Terraform (terraform_data stack) through the whole lifecycle,
on SQLite and PostgreSQL: create, repeat (one apply), capacity fallback, stop, start, delete."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from flowllama.agent.reconciler import Outcome, Reconciler
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance, User
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import ConfigError, NoCapacity
from flowllama.providers.base import DeploymentSpec, Handle, Placement
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.providers.terraform import (
    TerraformOptions,
    TerraformProvisioner,
    default_engine,
    terraform_data_stack,
)

pytestmark = pytest.mark.slow

STACK_DIR = Path(__file__).resolve().parents[2] / "deploy" / "terraform" / "stacks" / "test"
KINDS = {"test": "terraform"}
FULL_REGION = "full-region-1"


class CapacityLimited(TerraformProvisioner):
    """The real provisioner, with one region whose apply fails like an AWS capacity error."""

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        if placement.region == FULL_REGION:
            spec = dataclasses.replace(spec, extra={
                "fail_after_first": True,
                "failure_message": "InsufficientInstanceCapacity: no tiny left in region",
            })
        return super().create(spec, placement)


@pytest.fixture
def provisioner(tmp_path: Path) -> TerraformProvisioner:
    try:
        engine = default_engine()
    except ConfigError as exc:
        pytest.skip(f"no Terraform engine: {exc}")
    options = TerraformOptions(state_lock_timeout_s=0, workspace_wait_s=30, command_timeout_s=120)
    return CapacityLimited(tmp_path / "workspaces", [terraform_data_stack(STACK_DIR)],
                           engine=engine, options=options)


@pytest.fixture
def reconciler(database: Database, provisioner: TerraformProvisioner) -> Iterator[Reconciler]:
    registry = ProvisionerRegistry()
    registry.register("terraform", lambda: provisioner)
    yield Reconciler(database, registry, lease_s=60, kinds=KINDS)


def _offer(region: str, price: float) -> dict[str, Any]:
    return {"cloud": "test", "region": region, "zone": None, "instance_type": "tiny.small",
            "spot": False, "price_per_hour": price, "gpu": None, "gpu_count": 0}


def _deployment(database: Database, *regions: str) -> str:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(
            user_id=user.id, name="chat", model="llama3.2:1b", context_size=4096,
            cloud="auto", estimate={"candidates": [_offer(r, 0.1 + i)
                                                   for i, r in enumerate(regions)]},
        )
        session.add(deployment)
        session.flush()
        return deployment.id


def _state(database: Database, deployment_id: str) -> tuple[Deployment, list[Instance]]:
    with database.session() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        rows = session.scalars(select(Instance).where(Instance.deployment_id == deployment_id)
                               ).all()
        return deployment, list(rows)


def _desire(database: Database, deployment_id: str, desired: Desired) -> None:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.desired_state = desired


def _events(database: Database, deployment_id: str) -> list[DeploymentEvent]:
    with database.session() as session:
        return list(session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.deployment_id == deployment_id).order_by(DeploymentEvent.id)).all())


def test_full_lifecycle_with_one_apply_per_start(
    database: Database, reconciler: Reconciler, provisioner: TerraformProvisioner
) -> None:
    deployment_id = _deployment(database, "region-a")
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    deployment, instances = _state(database, deployment_id)
    assert deployment.status == Status.RUNNING
    assert len(instances) == 1
    assert instances[0].endpoint_url
    assert instances[0].price_per_hour == pytest.approx(0.1)
    assert [e.to_status for e in _events(database, deployment_id)] == [
        Status.PROVISIONING, Status.STARTING, Status.RUNNING]

    # The same nudge again (a duplicate delivery): nothing new is applied or recorded.
    applies = provisioner.operations["apply"]
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    assert provisioner.operations["apply"] == applies
    assert len(_state(database, deployment_id)[1]) == 1

    _desire(database, deployment_id, Desired.STOPPED)
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    deployment, instances = _state(database, deployment_id)
    assert deployment.status == Status.STOPPED
    assert all(row.terminated_at is not None for row in instances)

    _desire(database, deployment_id, Desired.RUNNING)
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    assert _state(database, deployment_id)[0].status == Status.RUNNING

    _desire(database, deployment_id, Desired.DELETED)
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    deployment, instances = _state(database, deployment_id)
    assert deployment.status == Status.DELETED
    assert deployment.deleted_at is not None
    assert all(row.terminated_at is not None for row in instances)
    assert not any(provisioner.root_dir.iterdir())  # no workspace or state left behind


def test_capacity_error_falls_back_to_next_offer(
    database: Database, reconciler: Reconciler, provisioner: TerraformProvisioner
) -> None:
    deployment_id = _deployment(database, FULL_REGION, "region-b")
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    deployment, instances = _state(database, deployment_id)
    assert deployment.status == Status.RUNNING
    assert [row.region for row in instances] == ["region-b"]
    reasons = [e.reason for e in _events(database, deployment_id)]
    assert any("no capacity" in r and FULL_REGION in r for r in reasons)
    _desire(database, deployment_id, Desired.DELETED)
    reconciler.reconcile(deployment_id)
    assert not any(provisioner.root_dir.iterdir())


def test_no_offer_with_capacity_raises_for_retry(
    database: Database, reconciler: Reconciler, provisioner: TerraformProvisioner
) -> None:
    deployment_id = _deployment(database, FULL_REGION)
    with pytest.raises(NoCapacity):
        reconciler.reconcile(deployment_id)
    assert _state(database, deployment_id)[0].status == Status.PROVISIONING
    assert not any(provisioner.root_dir.iterdir())  # the failed apply was cleaned up


def test_busy_when_another_agent_holds_the_lease(database: Database, reconciler: Reconciler
                                                 ) -> None:
    from flowllama.agent import leases

    deployment_id = _deployment(database, "region-a")
    token = leases.acquire(database, deployment_id, 60)
    assert token is not None
    assert reconciler.reconcile(deployment_id) is Outcome.BUSY
    leases.release(database, deployment_id, token)


def test_sleep_tears_down_and_a_wake_provisions_again(
    database: Database, reconciler: Reconciler, provisioner: TerraformProvisioner
) -> None:
    deployment_id = _deployment(database, "region-a")
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    _desire(database, deployment_id, Desired.SLEEPING)
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    deployment, instances = _state(database, deployment_id)
    assert deployment.status == Status.SLEEPING
    assert all(row.terminated_at is not None for row in instances)
    assert not any(provisioner.root_dir.iterdir())  # the server is released

    _desire(database, deployment_id, Desired.RUNNING)  # what services.wake.wake does
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    assert _state(database, deployment_id)[0].status == Status.RUNNING
    moves = [(e.from_status, e.to_status) for e in _events(database, deployment_id)
             if e.from_status != e.to_status]
    assert moves[3:] == [(Status.RUNNING, Status.STOPPING), (Status.STOPPING, Status.SLEEPING),
                         (Status.SLEEPING, Status.PROVISIONING),
                         (Status.PROVISIONING, Status.STARTING),
                         (Status.STARTING, Status.RUNNING)]

    _desire(database, deployment_id, Desired.SLEEPING)
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    _desire(database, deployment_id, Desired.STOPPED)  # stopped while asleep: nothing to destroy
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    assert _state(database, deployment_id)[0].status == Status.STOPPED
