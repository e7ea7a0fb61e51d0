"""An external server (``cloud: external``) through the whole platform in one process: an admin
registers a real HTTP server acting as Ollama behind a bearer secret through the API, the agent's
reconciler adopts it, the monitor checks it with its secret (healthy, then unhealthy on a wrong
secret, then recovered), the gateway serves it on ``/v1`` (official ``openai`` client) and on
``/ollama`` (official ``ollama`` client) with metering, another tenant gets 404, and a delete
leaves the server running."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import openai
import pytest

from factories import STRONG_PASSWORD, bearer
from flowllama.agent.reconciler import Reconciler
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, ExternalServer, Instance, User
from flowllama.domain.external import ExternalDeploymentRegister
from flowllama.domain.lifecycle import Status
from flowllama.gateway.routes import load_owner_routes
from flowllama.monitor.service import Monitor, MonitorOptions
from flowllama.monitor.verdicts import HealPolicy
from flowllama.platform import Platform
from flowllama.providers.external import ExternalProvisioner
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.security.upstream_secrets import UpstreamSecrets
from flowllama.services import deployments, external_servers, users
from flowllama.services.external_servers import ExternalDirectory
from gateway.conftest import Owner, RunningGateway, add_deployment, make_owner, wait_usage
from ollama_lookalike import COMPLETION_TOKENS, MODEL, PROMPT_TOKENS, Lookalike, ollama_lookalike

SECRET = "the-upstream-secret"


@pytest.fixture
def server() -> Iterator[Lookalike]:
    with ollama_lookalike(SECRET) as running:
        yield running


def _admin(gw: RunningGateway) -> dict[str, str]:
    with gw.platform.db.session() as session:
        users.create_user(session, "root@example.com", STRONG_PASSWORD, is_admin=True)
    tokens = httpx.post(f"{gw.base_url}/api/auth/login",
                        json={"email": "root@example.com", "password": STRONG_PASSWORD})
    return bearer(tokens.json())


def _register(gw: RunningGateway, admin: dict[str, str], owner: Owner, base_url: str,
              secret: str, expect: int) -> dict[str, Any]:
    response = httpx.post(f"{gw.base_url}/api/admin/external-deployments", headers=admin, json={
        "name": "shared", "owner_email": owner.user.email, "base_url": base_url,
        "api": "ollama", "secret": secret, "price_per_hour": 0.9, "model": MODEL})
    assert response.status_code == expect, response.text
    assert secret not in response.text
    body: dict[str, Any] = response.json()
    return body


def _reconcile(platform: Platform, deployment_id: str) -> Deployment:
    registry = ProvisionerRegistry()
    registry.register("external", lambda: ExternalProvisioner(
        ExternalDirectory(platform.db, platform.upstream_secrets), health_timeout_s=5))
    Reconciler(platform.db, registry).reconcile(deployment_id)
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row


def _monitor_round(platform: Platform) -> Instance:
    monitor = Monitor(platform.db, platform.queue,
                      MonitorOptions(interval_s=0.001, timeout_s=5, deep_interval_s=0.001),
                      HealPolicy(failures_before_unhealthy=1, heal_backoff_s=600),
                      runtime_keys=platform.runtime_keys,
                      upstream_secrets=platform.upstream_secrets)
    assert monitor.run_round().checked == 1
    with platform.db.session() as session:
        return session.query(Instance).filter(Instance.terminated_at.is_(None)).one()


def _status(db: Database, deployment_id: str) -> str:
    with db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status


def test_an_external_server_is_adopted_checked_served_metered_and_left_running(
        running_gateway: RunningGateway, server: Lookalike, owner: Owner,
        database: Database) -> None:
    gw, platform = running_gateway, running_gateway.platform
    admin = _admin(gw)
    created = _register(gw, admin, owner, server.base_url, SECRET, 201)
    assert created["created"] and created["has_secret"] and created["cloud"] == "external"
    assert created["endpoint_url"] == platform.settings.effective_gateway_url
    deployment_id = created["id"]

    assert _reconcile(platform, deployment_id).status == Status.RUNNING
    instance = _monitor_round(platform)
    assert instance.status == "healthy" and instance.price_per_hour == 0.9
    # Every request the server saw carried its own secret, never FlowLlama's runtime key.
    assert {"/api/tags", "/v1/chat/completions"} <= set(server.paths())
    assert {auth for _path, auth in server.seen} == {f"Bearer {SECRET}"}

    client = openai.OpenAI(base_url=gw.v1, api_key=owner.key, max_retries=0, timeout=30)
    reply = client.chat.completions.create(
        model="shared", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "hello there"
    chunks = list(client.chat.completions.create(
        model="shared", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "hello there"
    native = ollama.Client(host=f"{gw.base_url}/ollama/shared",
                           headers={"Authorization": f"Bearer {owner.key}"}, timeout=30)
    assert [m.model for m in native.list().models] == [MODEL]
    said = native.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert said.message.content == "hello there"
    assert wait_usage(database, 3) == (3, 3 * PROMPT_TOKENS, 3 * COMPLETION_TOKENS)
    assert {auth for _path, auth in server.seen} == {f"Bearer {SECRET}"}

    eve = make_owner(database, "eve@example.com")
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(base_url=gw.v1, api_key=eve.key, max_retries=0).chat.completions.create(
            model="shared", messages=[{"role": "user", "content": "hi"}])
    assert httpx.get(f"{gw.base_url}/ollama/shared/api/tags",
                     headers={"Authorization": f"Bearer {eve.key}"}).status_code == 404

    # A wrong secret (say the server's was rotated): the monitor calls it unhealthy; the
    # right one again and it recovers, with no process started or stopped anywhere.
    assert _register(gw, admin, owner, server.base_url, "stale-secret", 200)["has_secret"]
    assert _monitor_round(platform).status == "unhealthy"
    assert _status(database, deployment_id) == Status.UNHEALTHY
    _register(gw, admin, owner, server.base_url, SECRET, 200)
    assert _monitor_round(platform).status == "healthy"
    assert _status(database, deployment_id) == Status.RUNNING

    # Stop and start change records only: the server is released, then adopted again.
    for action, status in (("stop", Status.STOPPED), ("start", Status.RUNNING)):
        with database.session() as session:
            user = session.get(User, owner.user.id)
            assert user is not None
            deployments.request_action(session, user, deployment_id, action)
        assert _reconcile(platform, deployment_id).status == status
        if action == "stop":
            time.sleep(0.6)  # the route cache's TTL in these tests
            with pytest.raises(openai.APIStatusError) as stopped:
                client.chat.completions.create(
                    model="shared", messages=[{"role": "user", "content": "hi"}])
            assert stopped.value.status_code == 503
    time.sleep(0.6)
    assert client.chat.completions.create(
        model="shared", messages=[{"role": "user", "content": "hi"}]).choices
    with database.session() as session:
        user = session.get(User, owner.user.id)
        assert user is not None
        deployments.request_delete(session, user, deployment_id)
    assert _reconcile(platform, deployment_id).status == Status.DELETED
    with database.session() as session:
        stored = session.get(ExternalServer, deployment_id)
        assert stored is not None and stored.secret is None  # forgotten with the deployment
    answer = httpx.get(server.base_url + "/api/tags",
                       headers={"Authorization": f"Bearer {SECRET}"})
    assert answer.status_code == 200  # the server itself is untouched


def test_only_admins_register_and_bad_input_is_a_clear_error(
        running_gateway: RunningGateway, owner: Owner) -> None:
    gw = running_gateway
    url = f"{gw.base_url}/api/admin/external-deployments"
    body = {"name": "shared", "owner_email": owner.user.email, "api": "ollama",
            "base_url": "http://127.0.0.1:11434"}
    assert httpx.post(url, json=body).status_code == 401
    httpx.post(f"{gw.base_url}/api/auth/register",
               json={"email": "bob@example.com", "password": STRONG_PASSWORD})
    bob = bearer(httpx.post(f"{gw.base_url}/api/auth/login", json={
        "email": "bob@example.com", "password": STRONG_PASSWORD}).json())
    assert httpx.post(url, json=body, headers=bob).status_code == 403
    admin = _admin(gw)
    bad = httpx.post(url, json={**body, "base_url": "http://169.254.169.254/"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "base_url"
    nobody = httpx.post(url, json={**body, "owner_email": "nobody@example.com"}, headers=admin)
    assert nobody.status_code == 422 and nobody.json()["error"]["field"] == "owner_email"
    wrong_api = httpx.post(url, json={**body, "api": "grpc"}, headers=admin)
    assert wrong_api.status_code == 422


def test_routes_carry_the_servers_secret_and_an_unreadable_one_unroutes_only_its_deployment(
        platform: Platform, database: Database, owner: Owner) -> None:
    body = ExternalDeploymentRegister(name="shared", owner_email=owner.user.email,
                                      base_url="http://10.1.2.3:11434", api="ollama",
                                      secret=SECRET, model=MODEL)
    with database.session() as session:
        registered = external_servers.register(session, platform.upstream_secrets, body)
        registered.deployment.status = Status.RUNNING
        session.add(Instance(deployment_id=registered.deployment.id, provider="external",
                             endpoint_url="http://10.1.2.3:11434/v1", status="healthy",
                             handle={"kind": "external", "deployment_id": "x", "name": "x",
                                     "data": {"api": "ollama", "runtime": "ollama",
                                              "base_url": "http://10.1.2.3:11434"}}))
    add_deployment(database, owner, "mine", "local/tiny", ["http://127.0.0.1:9/v1"])
    routes = load_owner_routes(database, owner.user.id, platform.runtime_keys,
                               platform.upstream_secrets)
    (upstream,) = routes.by_name["shared"].upstreams
    assert upstream.auth_headers == (("Authorization", f"Bearer {SECRET}"),)
    assert (upstream.base_url, upstream.native_base_url, upstream.model) == (
        "http://10.1.2.3:11434/v1", "http://10.1.2.3:11434", MODEL)
    (local,) = routes.by_name["mine"].upstreams
    assert local.auth_headers == tuple(platform.runtime_keys.headers(local.deployment_id).items())
    rotated = load_owner_routes(database, owner.user.id, platform.runtime_keys,
                                UpstreamSecrets("a-rotated-platform-secret-0123456789"))
    assert rotated.by_name["shared"].upstreams == ()
    assert len(rotated.by_name["mine"].upstreams) == 1
