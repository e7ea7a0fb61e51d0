"""The ``cloudsim`` test provisioner (``tests/cloud_lookalike.py``) through the real reconciler
on SQLite and PostgreSQL: a spot AWS deployment of the tiny model gets a real llama.cpp server
that answers, recorded at the AWS offer the optimizer chose and billed at its price; a reclaim
behind the agent's back is reported as one (``reclaimed=True``), not as a crash; deletion
leaves no process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cloud_lookalike import KIND, LocalAsCloud, reclaim
from flowllama.agent.reconciler import Outcome, Reconciler
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, User
from flowllama.domain.deployments import DeploymentCreate
from flowllama.domain.lifecycle import Desired, Status
from flowllama.providers.base import Handle
from flowllama.providers.local import LocalOptions, LocalProvisioner, supervision
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.runtimes import LlamaCppRuntime
from flowllama.services import deployments
from flowllama.services.catalog import CatalogService
from flowllama.services.deployment_estimates import DeploymentEstimator

pytestmark = pytest.mark.slow

FAST = LocalOptions(threads=1, health_timeout_s=60, prepare_timeout_s=60, probe_timeout_s=10,
                    stop_grace_s=5, kill_wait_s=5, port_wait_s=5)
TINY_ON_AWS = DeploymentCreate(name="tiny", model="local/tiny", context_size=512, cloud="aws",
                               spot_tolerance="high")


@pytest.fixture
def local(tmp_path: Path, tiny_model_file: Path) -> Iterator[LocalProvisioner]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama.cpp runtime not installed")
    root = (tmp_path / "cloudsim").resolve()
    provisioner = LocalProvisioner(root, tiny_model_file.parent, FAST)
    yield provisioner
    provisioner.shutdown()
    assert supervision.find_supervisors(root) == []


@pytest.fixture
def reconciler(database: Database, local: LocalProvisioner) -> Reconciler:
    registry = ProvisionerRegistry()
    registry.register(KIND, lambda: LocalAsCloud(local))
    return Reconciler(database, registry, lease_s=60, kinds={"aws": KIND, "gcp": KIND})


def _create(database: Database, tmp_path: Path, models_dir: Path) -> str:
    estimator = DeploymentEstimator(CatalogService(tmp_path / "data", models_dir))
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        return deployments.create(session, user, TINY_ON_AWS, estimator).deployment.id


def test_a_cloud_offer_runs_a_real_server_reported_at_its_placement(
        database: Database, reconciler: Reconciler, local: LocalProvisioner, tmp_path: Path,
        tiny_model_file: Path) -> None:
    deployment_id = _create(database, tmp_path, tiny_model_file.parent)
    assert reconciler.reconcile(deployment_id) is Outcome.DONE
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        server = session.scalars(select(Instance)).one()
        assert row is not None and row.estimate is not None
        assert row.status == Status.RUNNING
        best = row.estimate["candidates"][0]
        handle = dict(server.handle)
        where = (server.provider, server.cloud, server.region, server.instance_type,
                 server.spot, server.price_per_hour)
    assert where == (KIND, "aws", best["region"], best["instance_type"], True,
                     best["price_per_hour"])
    assert server.endpoint_url is not None
    answer = httpx.get(server.endpoint_url.rstrip("/") + "/models", timeout=30)
    assert answer.status_code == 200, answer.text

    provisioner = LocalAsCloud(local)
    assert provisioner.refresh(Handle.from_dict(handle)).running
    reclaim(local.root, local, handle)  # the cloud takes it back
    state = provisioner.refresh(Handle.from_dict(handle))
    assert (state.exists, state.running, state.reclaimed) == (False, False, True)
    assert "reclaimed by aws" in state.detail

    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.desired_state = Desired.DELETED
    for _ in range(5):  # bounded: deletion takes a step or two
        reconciler.reconcile(deployment_id)
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.status == Status.DELETED
    assert supervision.find_supervisors(local.root) == []
