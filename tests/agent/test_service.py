"""The agent as a process: SIGKILLed in the middle of a real Terraform apply and started again,
it ends with exactly one server, reaches the desired state and leaves nothing after delete.
Frozen (SIGSTOP) in the middle of a long local step while a second agent takes over, it writes
nothing once resumed (SIGCONT). Deleting a deployment whose model is still downloading cancels
the download. The heartbeat keeps a long step's row and job leases. Also: stopping releases the
row leases of steps that did not finish in the grace period."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from flowllama.agent.leases import HeldLeases
from flowllama.agent.progress import ProgressRecorder
from flowllama.agent.service import AgentService
from flowllama.catalog.models import ModelCatalog, default_catalog
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance, User
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import ConfigError, ProvisioningFailed
from flowllama.providers.base import DeploymentSpec, Handle, Placement
from flowllama.providers.local import LocalOptions, LocalProvisioner, MemorySnapshot, supervision
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.providers.terraform import default_engine
from flowllama.queue import DatabaseQueue
from flowllama.queue.nudges import nudge
from flowllama.runtimes import LlamaCppRuntime, OllamaRuntime

CHILD = Path(__file__).with_name("agent_child.py")
FAKE_OLLAMA = Path(__file__).resolve().parents[1] / "runtimes" / "fake_ollama.py"
STACK_DIR = Path(__file__).resolve().parents[2] / "deploy" / "terraform" / "stacks" / "test"
LEASE_S = 4
SERVER = "terraform_data.server"


def _deployment(database: Database) -> Deployment:
    offer = {"cloud": "test", "region": "r1", "zone": None, "instance_type": "tiny.small",
             "spot": False, "price_per_hour": 0.1, "gpu": None, "gpu_count": 0}
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="chat", model="llama3.2:1b",
                                context_size=4096, estimate={"candidates": [offer]})
        session.add(deployment)
        session.flush()
        return deployment


def _wait_for(check: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _status(database: Database, deployment_id: str) -> str:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status


def _servers(workspace: Path) -> list[str]:
    try:  # Terraform rewrites the file in place: it may be empty for a moment
        state = json.loads((workspace / "terraform.tfstate").read_text())
    except (OSError, ValueError):
        return []
    return [instance["attributes"]["id"] for r in state.get("resources", [])
            if f"{r['type']}.{r['name']}" == SERVER for instance in r.get("instances", [])]


@pytest.fixture
def start_agent(db_url: str, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    try:
        default_engine()
    except ConfigError as exc:
        pytest.skip(f"no Terraform engine: {exc}")
    started: list[subprocess.Popen[bytes]] = []
    config = {"db_url": db_url, "root": str(tmp_path / "workspaces"), "stack": str(STACK_DIR),
              "lease_s": LEASE_S}

    def start() -> subprocess.Popen[bytes]:
        child = subprocess.Popen([sys.executable, str(CHILD), json.dumps(config)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(child)
        return child

    yield start
    for child in started:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.slow
def test_agent_killed_mid_provisioning_ends_with_exactly_one_server(
        database: Database, start_agent: Callable[[], subprocess.Popen[bytes]],
        tmp_path: Path) -> None:
    queue = DatabaseQueue(database, lease_s=LEASE_S)
    deployment = _deployment(database)
    workspace = tmp_path / "workspaces" / f"fl-{deployment.id}"
    nudge(queue, deployment)

    first = start_agent()
    _wait_for(lambda: bool(_servers(workspace)), "the first agent's apply to create the server")
    os.kill(first.pid, signal.SIGKILL)  # the apply is still booting the server
    first.wait()
    assert _status(database, deployment.id) == Status.PROVISIONING

    second = start_agent()
    _wait_for(lambda: _status(database, deployment.id) == Status.RUNNING, "running")
    with database.session() as session:
        instances = session.scalars(select(Instance).where(
            Instance.deployment_id == deployment.id)).all()
        assert len(instances) == 1
    assert len(_servers(workspace)) == 1

    with database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.desired_state = Desired.DELETED
    nudge(queue, deployment)
    _wait_for(lambda: _status(database, deployment.id) == Status.DELETED, "deleted")
    assert not workspace.exists()
    assert [p.name for p in (tmp_path / "workspaces").iterdir()] == []

    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0


class Blocking:
    """A provisioner whose create waits for the test to let it go."""

    kind = "local"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        self.entered.set()
        self.release.wait(30)
        raise ProvisioningFailed("let go")

    def find(self, spec: DeploymentSpec) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def test_stop_releases_the_leases_of_unfinished_steps(database: Database) -> None:
    blocking = Blocking()
    registry = ProvisionerRegistry()
    registry.register("local", lambda: blocking)  # type: ignore[arg-type,return-value]
    queue = DatabaseQueue(database)
    deployment = _deployment(database)
    with database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.cloud = "local"
    nudge(queue, deployment)
    hooks: list[str] = []
    agent = AgentService(database, queue, registry, workers=1, poll_s=0.05,
                         on_start=lambda: hooks.append("start"),
                         on_stop=lambda: hooks.append("stop"))
    agent.start()
    try:
        assert blocking.entered.wait(30)
        assert agent.stop(grace_s=0.2) is False
        with database.session() as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None and row.lease_token is None
        assert hooks == ["start", "stop"]
    finally:
        blocking.release.set()
        for thread in agent._threads:  # the abandoned step ends before its database does
            thread.join(30)


def _timeline(database: Database, deployment_id: str) -> tuple[Any, ...]:
    """Everything an agent writes for a deployment: the row, its instances, its events."""
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        instances = session.scalars(select(Instance).where(
            Instance.deployment_id == deployment_id).order_by(Instance.id)).all()
        events = session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.deployment_id == deployment_id).order_by(DeploymentEvent.id)).all()
        return ((row.status, row.status_message, row.heal_attempts, row.updated_at),
                [(i.id, i.status, i.endpoint_url, i.terminated_at) for i in instances],
                [(e.id, e.from_status, e.to_status, e.reason) for e in events])


@pytest.mark.slow
def test_a_frozen_agent_writes_nothing_once_another_took_its_lease(
        database: Database, db_url: str, tmp_path: Path, tiny_model_file: Path) -> None:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    deployment = _deployment(database)
    with database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.cloud, row.model, row.context_size = "local", "local/tiny", 512
    config = {"db_url": db_url, "root": str(tmp_path / "local"), "lease_s": 3,
              "models_dir": str(tiny_model_file.parent)}
    logs: dict[str, Path] = {}

    def start(name: str) -> subprocess.Popen[bytes]:
        logs[name] = tmp_path / f"{name}.log"
        with logs[name].open("wb") as out:
            return subprocess.Popen([sys.executable, str(CHILD), json.dumps(config)],
                                    stdout=out, stderr=subprocess.STDOUT)

    nudge(DatabaseQueue(database), deployment)
    first = start("first")
    second = None
    try:
        # The first agent has launched the runtime and is making its model ready: freeze it.
        _wait_for((tmp_path / f"entered-{first.pid}").exists, "the long step")
        os.kill(first.pid, signal.SIGSTOP)
        second = start("second")  # takes over once the frozen agent's lease has expired
        _wait_for(lambda: _status(database, deployment.id) == Status.RUNNING, "running")
        before = _timeline(database, deployment.id)

        effects = _effects(tmp_path, first.pid)
        runtimes = _supervisors(tmp_path)
        assert effects == [f"create {deployment.id}"] and len(runtimes) == 1

        os.kill(first.pid, signal.SIGCONT)  # its step wakes up in the middle of the model
        _wait_for(lambda: "agent.row_lease_lost" in logs["first"].read_text(),
                  "the resumed agent to notice it lost the lease")
        # The step ended at its next progress report, not at the end of the preparation, and
        # neither destroyed nor launched anything: the runtime the second agent adopted (the
        # one the first launched) is still the one serving.
        assert not (tmp_path / f"prepared-{first.pid}").exists()
        assert _effects(tmp_path, first.pid) == effects
        assert _supervisors(tmp_path) == runtimes
        assert _timeline(database, deployment.id) == before
        assert len(before[1]) == 1  # one instance: the runtime the second agent adopted
    finally:
        for child in (first, second):
            if child is not None:
                os.kill(child.pid, signal.SIGCONT)
                child.send_signal(signal.SIGTERM)
                child.wait(60)


def _effects(tmp_path: Path, pid: int) -> list[str]:
    """The provisioner calls with side effects (create, destroy) agent ``pid`` asked for."""
    path = tmp_path / f"effects-{pid}"
    return path.read_text().splitlines() if path.exists() else []


def _supervisors(tmp_path: Path) -> list[tuple[int, str]]:
    """The local runtimes' supervisors alive now (pid, server key)."""
    return sorted((s.pid, s.server_key)
                  for s in supervision.find_supervisors(tmp_path / "local"))


def _slow_ollama(database: Database, tmp_path: Path, held: HeldLeases) -> LocalProvisioner:
    """The local provisioner running the fake Ollama, whose ``slow…`` models download for
    minutes, with download progress recorded under the agent's leases."""
    executable = tmp_path / "bin" / "ollama"
    executable.parent.mkdir()
    executable.write_text(f"#!{sys.executable}\nimport runpy\n"
                          f"runpy.run_path({str(FAKE_OLLAMA)!r}, run_name='__main__')\n")
    executable.chmod(0o755)
    base = default_catalog()
    catalog = ModelCatalog([*base.all(), dataclasses.replace(base.get("qwen2.5:0.5b"),
                                                             name="slow-model:0.5b")])
    options = LocalOptions(threads=1, health_timeout_s=60, prepare_timeout_s=600,
                           stop_grace_s=5, kill_wait_s=5, port_wait_s=5,
                           runtimes={"ollama": OllamaRuntime(str(executable))},
                           read_memory=lambda: MemorySnapshot(64 * 1024**3, 64 * 1024**3, "test"))
    return LocalProvisioner(tmp_path / "local", tmp_path / "models", options, catalog=catalog,
                            on_progress=ProgressRecorder(database, held))


@pytest.mark.slow
def test_deleting_a_deployment_cancels_its_model_download(database: Database,
                                                          tmp_path: Path) -> None:
    held = HeldLeases()
    local = _slow_ollama(database, tmp_path, held)
    registry = ProvisionerRegistry()
    registry.register("local", lambda: local)
    queue = DatabaseQueue(database)
    deployment = _deployment(database)
    with database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.cloud, row.model, row.context_size = "local", "slow-model:0.5b", 512
    nudge(queue, deployment)
    agent = AgentService(database, queue, registry, workers=1, lease_s=3, poll_s=0.05,
                         wait_s=0.2, held=held, on_stop=local.shutdown)
    agent.start()
    try:
        _wait_for(lambda: "pulling sha256" in (_message(database, deployment.id) or ""),
                  "the download to start")
        with database.session() as session:  # what DELETE /api/deployments/{id} does
            row = session.get(Deployment, deployment.id)
            assert row is not None
            row.desired_state = Desired.DELETED
        nudge(queue, deployment)
        # The download alone would take minutes: only a cancelled one ends in time.
        _wait_for(lambda: _status(database, deployment.id) == Status.DELETED, "deleted", 60)
    finally:
        agent.stop(grace_s=10)
    with database.session() as session:
        fractions = [event.data["fraction"] for event in session.scalars(
            select(DeploymentEvent).where(DeploymentEvent.deployment_id == deployment.id))
            if event.data and "fraction" in event.data]
    assert all(fraction < 1 for fraction in fractions)  # it never finished
    assert supervision.find_supervisors(local.root) == []


def _message(database: Database, deployment_id: str) -> str | None:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status_message


def test_the_heartbeat_keeps_a_long_steps_leases(database: Database) -> None:
    blocking = Blocking()
    registry = ProvisionerRegistry()
    registry.register("local", lambda: blocking)  # type: ignore[arg-type,return-value]
    queue = DatabaseQueue(database)
    deployment = _deployment(database)
    with database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.cloud = "local"
    nudge(queue, deployment)
    agent = AgentService(database, queue, registry, workers=1, lease_s=1, poll_s=0.05)
    agent.start()
    try:
        assert blocking.entered.wait(30)
        first = _lease(database, deployment.id)
        time.sleep(3)  # three lease periods inside one step
        token, expires = _lease(database, deployment.id)
        assert token == first[0] is not None  # still ours: renewed, never expired
        assert expires is not None and first[1] is not None and expires > first[1]
        depth = queue.depth()  # the nudge's job lease is kept alive too
        assert (depth.ready, depth.in_flight) == (0, 1)
    finally:
        blocking.release.set()
        agent.stop(grace_s=10)


def _lease(database: Database, deployment_id: str) -> tuple[str | None, Any]:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.lease_token, row.lease_expires_at
