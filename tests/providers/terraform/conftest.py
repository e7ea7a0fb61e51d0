"""Fixtures for Terraform tests: the real engine, the terraform_data test stack, an HTTP state
server on 127.0.0.1 (a backend whose locks outlive a killed process, like S3 or GCS)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from flowllama.errors import ConfigError
from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import (
    BackendConfig,
    Engine,
    StackDefinition,
    TerraformOptions,
    TerraformProvisioner,
    default_engine,
    terraform_data_stack,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
TEST_STACK_DIR = REPO_ROOT / "deploy" / "terraform" / "stacks" / "test"

# Fast failure on a held lock: the tests decide what "held" means.
FAST = TerraformOptions(state_lock_timeout_s=0, workspace_wait_s=30, command_timeout_s=120)


@pytest.fixture(scope="session")
def engine() -> Engine:
    try:
        return default_engine()
    except ConfigError as exc:
        pytest.skip(f"no Terraform engine here: {exc}")


@pytest.fixture(scope="session")
def stack() -> StackDefinition:
    return terraform_data_stack(TEST_STACK_DIR)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "workspaces"


ProvisionerFactory = Callable[..., TerraformProvisioner]


@pytest.fixture
def make_provisioner(root: Path, stack: StackDefinition, engine: Engine) -> ProvisionerFactory:
    def make(**kwargs: Any) -> TerraformProvisioner:
        kwargs.setdefault("engine", engine)
        kwargs.setdefault("options", FAST)
        return TerraformProvisioner(root, [stack], **kwargs)

    return make


@pytest.fixture
def provisioner(make_provisioner: ProvisionerFactory) -> TerraformProvisioner:
    return make_provisioner()


def _make_spec(**extra: Any) -> DeploymentSpec:
    return DeploymentSpec(
        deployment_id=uuid.uuid4().hex,
        user_id=uuid.uuid4().hex,
        name="my deployment",
        model="llama3.2:1b",
        context_size=4096,
        extra=extra,
    )


@pytest.fixture
def new_spec() -> Callable[..., DeploymentSpec]:
    """Builds a fresh deployment on the test stack; keyword arguments feed stack variables."""
    return _make_spec


@pytest.fixture
def placement() -> Placement:
    return Placement(cloud="test", region="local", instance_type="test.small")


@pytest.fixture
def local_state() -> Callable[[Path], list[dict[str, Any]]]:
    """Reads the resource instances of a local-backend workspace's state file directly."""
    return _local_state_resources


def _local_state_resources(workspace: Path) -> list[dict[str, Any]]:
    state_file = workspace / "terraform.tfstate"
    if not state_file.exists():
        return []
    state = json.loads(state_file.read_text())
    return [
        {"address": f"{r['module']}.{r['type']}.{r['name']}", **instance}
        for r in state.get("resources", [])
        for instance in r.get("instances", [])
    ]


@dataclass
class StateServer:
    """An HTTP state backend: ``states`` and ``locks`` by path, served on 127.0.0.1."""

    base_url: str = ""
    states: dict[str, bytes] = field(default_factory=dict)
    locks: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def resources(self, name: str) -> list[dict[str, Any]]:
        raw = self.states.get(f"/flowllama/{name}")
        if not raw:
            return []
        state = json.loads(raw)
        return [
            {"address": f"{r['module']}.{r['type']}.{r['name']}", **instance}
            for r in state.get("resources", [])
            for instance in r.get("instances", [])
        ]

    def seed_lock(self, name: str, lock_id: str = "foreign-lock", age_s: float = 0.0,
                  who: str = "ops@elsewhere") -> None:
        """A lock held by ``who``, taken ``age_s`` seconds ago."""
        created = datetime.now(UTC) - timedelta(seconds=age_s)
        info = {"ID": lock_id, "Operation": "OperationTypeApply", "Who": who,
                "Version": "1.11.4", "Created": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "Path": "", "Info": ""}
        self.locks[f"/flowllama/{name}/lock"] = json.dumps(info).encode()


def _handler(server: StateServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        @property
        def key(self) -> str:
            # Terraform adds ?ID=<lock id> to writes made under a lock.
            return urlsplit(self.path).path

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, code: int, body: bytes = b"") -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            body = server.states.get(self.key)
            self._send(200, body) if body else self._send(404)

        def do_POST(self) -> None:
            server.states[self.key] = self._body()
            self._send(200)

        def do_DELETE(self) -> None:
            server.states.pop(self.key, None)
            self._send(200)

        def do_LOCK(self) -> None:
            body = self._body()
            with server.lock:
                held = server.locks.get(self.key)
                if held is None:
                    server.locks[self.key] = body
            self._send(200) if held is None else self._send(423, held)

        def do_UNLOCK(self) -> None:
            self._body()
            with server.lock:
                server.locks.pop(self.key, None)
            self._send(200)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def state_server() -> Iterator[StateServer]:
    server = StateServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def http_backend(state_server: StateServer) -> BackendConfig:
    return BackendConfig.http(state_server.base_url)
