"""The external provisioner against a real HTTP server acting as Ollama: create adopts without
touching the server, refresh checks it with its own secret, destroy leaves it running."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from flowllama.domain.external import ExternalTarget
from flowllama.providers.base import DeploymentSpec, Placement, Unsupported
from flowllama.providers.external import ExternalProvisioner
from ollama_lookalike import Lookalike, ollama_lookalike
from tiny_model import free_port

SECRET = "lookalike-secret"
DEPLOYMENT_ID = "a" * 32
PLACEMENT = Placement(cloud="external", region="external", instance_type="ollama-server",
                      price_per_hour=0.5)


class Registrations:
    """What the database would answer (``services.external_servers.ExternalDirectory``)."""

    def __init__(self) -> None:
        self.targets: dict[str, ExternalTarget] = {}
        self.forgotten: list[str] = []

    def lookup(self, deployment_id: str) -> ExternalTarget | None:
        return self.targets.get(deployment_id)

    def forget(self, deployment_id: str) -> None:
        self.forgotten.append(deployment_id)


@pytest.fixture
def server() -> Iterator[Lookalike]:
    with ollama_lookalike(SECRET) as running:
        yield running


def _spec() -> DeploymentSpec:
    return DeploymentSpec(deployment_id=DEPLOYMENT_ID, user_id="u", name="shared",
                          model="lookalike:1b", context_size=4096, cloud="external")


def _registered(base_url: str, secret: str | None = SECRET) -> Registrations:
    registrations = Registrations()
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    registrations.targets[DEPLOYMENT_ID] = ExternalTarget("ollama", base_url, headers)
    return registrations


def test_create_adopts_the_registered_server_without_calling_it(server: Lookalike) -> None:
    provisioner = ExternalProvisioner(_registered(server.base_url))
    handle = provisioner.create(_spec(), PLACEMENT)
    assert handle.kind == "external" and handle.name == f"fl-{DEPLOYMENT_ID}"
    assert handle.data == {"api": "ollama", "base_url": server.base_url, "runtime": "ollama"}
    assert SECRET not in str(handle.to_dict())
    assert server.seen == []  # adoption is bookkeeping, not a request
    assert provisioner.find(_spec()) == handle


def test_refresh_checks_health_with_the_servers_own_secret(server: Lookalike) -> None:
    provisioner = ExternalProvisioner(_registered(server.base_url))
    state = provisioner.refresh(provisioner.create(_spec(), PLACEMENT))
    assert state.running and state.endpoint_url == server.base_url + "/v1"
    assert server.seen == [("/api/tags", f"Bearer {SECRET}")]
    wrong = ExternalProvisioner(_registered(server.base_url, secret="wrong"))
    refused = wrong.refresh(wrong.create(_spec(), PLACEMENT))
    assert not refused.running and "HTTP 401" in refused.detail


def test_refresh_of_an_unreachable_or_unregistered_server() -> None:
    provisioner = ExternalProvisioner(_registered(f"http://127.0.0.1:{free_port()}"),
                                      health_timeout_s=2)
    handle = provisioner.create(_spec(), PLACEMENT)
    state = provisioner.refresh(handle)
    assert state.exists and not state.running and "ConnectError" in state.detail
    provisioner.registrations.targets.clear()  # type: ignore[attr-defined]
    assert not provisioner.refresh(handle).exists
    with pytest.raises(Unsupported, match="no external server is registered"):
        provisioner.create(_spec(), PLACEMENT)


def test_destroy_and_forget_leave_the_server_running(server: Lookalike) -> None:
    registrations = _registered(server.base_url)
    provisioner = ExternalProvisioner(registrations)
    handle = provisioner.create(_spec(), PLACEMENT)
    provisioner.destroy(handle)
    provisioner.destroy(handle)  # idempotent
    provisioner.forget(DEPLOYMENT_ID)
    assert registrations.forgotten == [DEPLOYMENT_ID]
    answer = httpx.get(server.base_url + "/api/tags",
                       headers={"Authorization": f"Bearer {SECRET}"})
    assert answer.status_code == 200


def test_only_external_placements_are_accepted(server: Lookalike) -> None:
    provisioner = ExternalProvisioner(_registered(server.base_url))
    with pytest.raises(Unsupported, match="cannot place on cloud 'aws'"):
        provisioner.create(_spec(), Placement(cloud="aws", region="us-east-1",
                                              instance_type="g6.xlarge"))
    assert server.seen == []
