"""Gateway fixtures: a real llama.cpp upstream on the tiny model, a real gateway over HTTP
(uvicorn in a thread, so tests can look inside it), and owners with deployments and keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, UsageDaily, User
from flowllama.domain.keys import ApiKeyCreate
from flowllama.domain.lifecycle import Desired, Status
from flowllama.gateway import Gateway
from flowllama.platform import Platform, build_platform
from flowllama.services import api_keys
from flowllama.settings import Settings
from tiny_model import TinyServer, free_port, serve_tiny_model

FAST_CACHES = {"key_cache_ttl_s": 0.5, "route_cache_ttl_s": 0.5, "usage_flush_interval_s": 0.2,
               "failure_cooldown_s": 30}


@pytest.fixture(scope="session")
def upstream(tiny_model_file: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[TinyServer]:
    """One llama.cpp server on the tiny model for the whole session."""
    with serve_tiny_model(tiny_model_file, tmp_path_factory.mktemp("upstream")) as server:
        yield server


@dataclass
class RunningGateway:
    """A gateway (with the API) served over HTTP on loopback."""

    base_url: str
    platform: Platform
    gateway: Gateway

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"gateway": settings.gateway.model_copy(
        update=FAST_CACHES)})


@pytest.fixture
def running_gateway(gateway_settings: Settings, database: Database
                    ) -> Iterator[RunningGateway]:
    platform = build_platform(gateway_settings, db=database)
    app = create_app(platform, ("api", "gateway"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "gateway did not start"
        time.sleep(0.02)
    gateway = app.state.gateway
    try:
        yield RunningGateway(f"http://127.0.0.1:{port}", platform, gateway)
    finally:
        server.should_exit = True
        thread.join(30)
        assert not thread.is_alive(), "the gateway did not stop"


@dataclass(frozen=True)
class Owner:
    user: User
    key: str
    key_id: str


def make_owner(db: Database, email: str, **limits: object) -> Owner:
    """A user with one API key (``limits`` go into the key's create body)."""
    with db.session() as session:
        user = User(email=email, password_hash="x")
        session.add(user)
        session.flush()
        row, secret = api_keys.create(session, user, ApiKeyCreate(name="test", **limits))
    return Owner(user, secret, row.id)


def add_deployment(db: Database, owner: Owner, name: str, model: str,
                   endpoints: list[str], status: str = Status.RUNNING,
                   runtime: str = "auto") -> Deployment:
    """A deployment of ``owner`` in ``status`` with one healthy instance per endpoint."""
    with db.session() as session:
        deployment = Deployment(user_id=owner.user.id, name=name, model=model,
                                context_size=512, cloud="local", status=status, runtime=runtime,
                                desired_state=Desired.RUNNING)
        session.add(deployment)
        session.flush()
        for endpoint in endpoints:
            session.add(Instance(deployment_id=deployment.id, provider="local",
                                 endpoint_url=endpoint, status="healthy", price_per_hour=0.0))
    return deployment


@pytest.fixture
def owner(database: Database) -> Owner:
    return make_owner(database, "ada@example.com")


@pytest.fixture
def dead_endpoint() -> str:
    """An OpenAI base URL on a loopback port nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/v1"


def wait_usage(db: Database, requests: int, timeout_s: float = 10) -> tuple[int, int, int]:
    """(requests, prompt tokens, completion tokens) in the rollup once ``requests`` landed
    there (the gateway flushes every 0.2 s in these tests)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with db.session() as session:
            rows = session.execute(select(UsageDaily.requests, UsageDaily.prompt_tokens,
                                          UsageDaily.completion_tokens)).all()
        totals = (sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows))
        if totals[0] >= requests:
            return totals
        assert time.monotonic() < deadline, f"usage never reached {requests}: {totals}"
        time.sleep(0.05)
