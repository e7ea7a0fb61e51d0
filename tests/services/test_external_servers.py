"""Registering external servers: records only, sealed secrets, idempotent updates, URL rules."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from flowllama.db.tables import Deployment, DeploymentEvent, ExternalServer, Instance, User
from flowllama.domain.external import ExternalDeploymentRegister
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import Conflict, InvalidInput
from flowllama.platform import Platform
from flowllama.security.upstream_secrets import UpstreamSecrets
from flowllama.services import external_servers
from flowllama.services.external_servers import ExternalDirectory, check_base_url

SECRET = "upstream-secret-value-123"


def _owner(platform: Platform, email: str = "owner@example.com") -> str:
    with platform.db.session() as session:
        user = User(email=email, password_hash="x")
        session.add(user)
        session.flush()
        return user.id


def _body(**overrides: Any) -> ExternalDeploymentRegister:
    fields: dict[str, Any] = {"name": "shared", "owner_email": "owner@example.com",
                              "base_url": "http://10.0.0.5:11434/", "api": "ollama",
                              "secret": SECRET, "price_per_hour": 1.5, "model": "llama3.2:1b"}
    return ExternalDeploymentRegister.model_validate({**fields, **overrides})


def _register(platform: Platform, body: ExternalDeploymentRegister
              ) -> external_servers.Registered:
    with platform.db.session() as session:
        return external_servers.register(session, platform.upstream_secrets, body)


def test_register_records_a_pending_external_deployment_with_its_secret_sealed(
        platform: Platform) -> None:
    owner_id = _owner(platform)
    registered = _register(platform, _body())
    assert registered.new and registered.changed
    with platform.db.session() as session:
        deployment = session.get(Deployment, registered.deployment.id)
        server = session.get(ExternalServer, registered.deployment.id)
        assert deployment is not None and server is not None
        assert (deployment.user_id, deployment.cloud, deployment.model) == (
            owner_id, "external", "llama3.2:1b")
        assert (deployment.status, deployment.desired_state) == (Status.PENDING, Desired.RUNNING)
        assert deployment.estimate is not None
        assert deployment.estimate["candidates"][0]["price_per_hour"] == 1.5
        assert server.base_url == "http://10.0.0.5:11434"  # private address allowed, no slash
        assert server.secret is not None and SECRET not in server.secret
        assert platform.upstream_secrets.open(server.secret) == SECRET
        assert session.scalars(select(Instance)).all() == []  # nothing provisioned


def test_registering_again_changes_nothing_or_updates_in_place(platform: Platform) -> None:
    _owner(platform)
    first = _register(platform, _body())
    again = _register(platform, _body())
    assert (again.new, again.changed) == (False, False)
    with platform.db.session() as session:  # a live instance follows the new registration
        session.add(Instance(deployment_id=first.deployment.id, provider="external",
                             handle={"kind": "external", "deployment_id": first.deployment.id,
                                     "name": "x", "data": {}},
                             endpoint_url="http://10.0.0.5:11434/v1", status="healthy"))
    moved = _register(platform, _body(base_url="https://vllm.internal:8443/v1", api="openai",
                                      price_per_hour=2.0, secret="rotated-secret"))
    assert (moved.new, moved.changed) == (False, True)
    assert moved.deployment.id == first.deployment.id
    with platform.db.session() as session:
        instance = session.scalars(select(Instance)).one()
        assert instance.endpoint_url == "https://vllm.internal:8443/v1"
        assert instance.handle["data"] == {"api": "openai", "runtime": "openai",
                                           "base_url": "https://vllm.internal:8443/v1"}
        assert instance.price_per_hour == 2.0
        server = session.get(ExternalServer, first.deployment.id)
        assert server is not None and server.secret is not None
        assert platform.upstream_secrets.open(server.secret) == "rotated-secret"
        reasons = session.scalars(select(DeploymentEvent.reason)).all()
        assert any("re-registered" in r and "base_url" in r and "secret" in r for r in reasons)
        assert all("rotated-secret" not in r and SECRET not in r for r in reasons)
    kept = _register(platform, _body(base_url="https://vllm.internal:8443/v1", api="openai",
                                     price_per_hour=2.0, secret=None))
    assert not kept.changed  # no secret given: the stored one is kept
    cleared = _register(platform, _body(base_url="https://vllm.internal:8443/v1", api="openai",
                                        price_per_hour=2.0, secret=None, clear_secret=True))
    assert cleared.changed
    with platform.db.session() as session:
        server = session.get(ExternalServer, first.deployment.id)
        assert server is not None and server.secret is None


def test_unknown_owner_and_a_name_taken_by_a_real_deployment_are_refused(
        platform: Platform) -> None:
    with pytest.raises(InvalidInput) as unknown:
        _register(platform, _body())
    assert unknown.value.field == "owner_email"
    owner_id = _owner(platform)
    with platform.db.session() as session:
        session.add(Deployment(user_id=owner_id, name="shared", model="llama3.2:1b",
                               context_size=4096, cloud="local"))
    with pytest.raises(Conflict) as taken:
        _register(platform, _body())
    assert (taken.value.field, taken.value.code) == ("name", "name_taken")


@pytest.mark.parametrize("url", [
    "ftp://10.0.0.5/", "file:///etc/passwd", "http://user:pw@10.0.0.5:11434",
    "http://10.0.0.5:11434/?x=1", "http://10.0.0.5:11434/#frag", "http://:80",
    "http://169.254.169.254/", "http://metadata.google.internal/", "http://0x7f000001:11434",
    "http://10.0.0.5:99999", "http://10.0.0.5/\r\nX: y",
])
def test_bad_base_urls_are_refused_on_their_field(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_base_url(url)
    assert refused.value.field == "base_url"


@pytest.mark.parametrize("url", ["http://127.0.0.1:11434", "http://ollama.flowllama.svc:11434",
                                 "https://[fd00::5]:8443/v1", "http://192.168.1.20/openai/v1"])
def test_private_and_in_cluster_addresses_are_allowed(url: str) -> None:
    assert check_base_url(url + "/") == url


def test_directory_opens_the_secret_for_the_provisioner_and_forgets_it(
        platform: Platform) -> None:
    _owner(platform)
    registered = _register(platform, _body())
    directory = ExternalDirectory(platform.db, platform.upstream_secrets)
    target = directory.lookup(registered.deployment.id)
    assert target is not None
    assert target.headers == {"Authorization": f"Bearer {SECRET}"}
    assert SECRET not in repr(target)
    directory.forget(registered.deployment.id)
    target = directory.lookup(registered.deployment.id)
    assert target is not None and target.headers == {}
    assert directory.lookup("0" * 32) is None


def test_registering_again_reseals_a_secret_the_rotated_platform_secret_cannot_open(
        platform: Platform) -> None:
    _owner(platform)
    with platform.db.session() as session:
        old = UpstreamSecrets("the-platform-secret-before-rotation-0123")
        registered = external_servers.register(session, old, _body())
    again = _register(platform, _body())
    assert again.changed
    target = ExternalDirectory(platform.db, platform.upstream_secrets).lookup(
        registered.deployment.id)
    assert target is not None and target.headers == {"Authorization": f"Bearer {SECRET}"}
