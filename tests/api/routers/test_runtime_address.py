"""A runtime's own address never reaches its owner, on SQLite and PostgreSQL: the agent takes a
deployment through its real steps to ``running`` (and a heal) on a server at a known address,
and none of the user's answers (the deployment, the list, its events) nor the webhook
deliveries queued for the user contain that address. Users reach models through the gateway;
operators read the address off the instance rows."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import bearer, register_and_login
from flowllama.agent.reconciler import DrainPolicy, Outcome, Reconciler
from flowllama.db.tables import (
    Deployment,
    DeploymentEvent,
    Instance,
    User,
    Webhook,
    WebhookDelivery,
)
from flowllama.domain.lifecycle import Status
from flowllama.domain.webhooks import WebhookEvent
from flowllama.platform import Platform
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.services.deployment_status import change_status_and_notify, record_event
from flowllama.services.deployments import Viewer
from memory_servers import MemoryServers

RUNTIME = "10.9.8.7:48123"  # where every server of this provisioner listens


def _settle(reconciler: Reconciler, deployment_id: str) -> None:
    for _ in range(10):
        if reconciler.reconcile(deployment_id) is Outcome.DONE:
            return
    raise AssertionError("the deployment did not settle")


def _status(platform: Platform, deployment_id: str) -> str:
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status


def _deployed(client: TestClient) -> tuple[dict[str, str], str]:
    """A new user's headers and their aws deployment's id."""
    auth = bearer(register_and_login(client))
    created = client.post("/api/deployments", headers=auth, json={
        "name": "chat", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws"})
    assert created.status_code == 202, created.text
    return auth, created.json()["id"]


def test_no_user_facing_answer_names_the_runtimes_address(
        client: TestClient, platform: Platform) -> None:
    auth, deployment_id = _deployed(client)
    with platform.db.session() as session:
        user = session.scalars(select(User)).one()
        session.add(Webhook(user_id=user.id, url="https://hooks.example.com/x", secret="s",
                            events=[event.value for event in WebhookEvent]))
    servers = MemoryServers(clouds=["aws"], address=RUNTIME)
    registry = ProvisionerRegistry()
    registry.register(servers.kind, lambda: servers)
    reconciler = Reconciler(platform.db, registry, lease_s=30, kinds={"aws": servers.kind},
                            drain=DrainPolicy(timeout_s=30, route_ttl_s=0, report_interval_s=0))

    _settle(reconciler, deployment_id)
    assert _status(platform, deployment_id) == Status.RUNNING
    with platform.db.session() as session:  # the monitor's verdict: heal it
        row = session.get(Deployment, deployment_id)
        assert row is not None
        change_status_and_notify(session, row, Status.UNHEALTHY, "2 failed health checks")
    _settle(reconciler, deployment_id)
    assert _status(platform, deployment_id) == Status.RUNNING

    with platform.db.session() as session:  # the address is known: operators can see it
        addresses = session.scalars(select(Instance.endpoint_url)).all()
        payloads = [str(d.payload) for d in session.scalars(select(WebhookDelivery))]
    assert addresses and all(RUNTIME in (address or "") for address in addresses)
    answers = [client.get(path, headers=auth) for path in (
        f"/api/deployments/{deployment_id}", "/api/deployments",
        f"/api/deployments/{deployment_id}/events")]
    assert all(answer.status_code == 200 for answer in answers)
    reasons = [event["reason"] for event in answers[2].json()]
    assert "server is up" in reasons and "healed: the replacement is up" in reasons
    assert payloads
    for text in [answer.text for answer in answers] + payloads:
        assert RUNTIME not in text and "10.9.8.7" not in text


def test_an_address_stored_in_an_older_event_is_shown_to_operators_only(
        client: TestClient, platform: Platform) -> None:
    """Events written before servers were named by id (or by any writer that slips) may hold
    an address in ``data``: the owner's timeline leaves those keys out, an operator's keeps
    them."""
    auth, deployment_id = _deployed(client)
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        record_event(session, row, "server is up", data={
            "endpoint_url": f"http://{RUNTIME}/v1", "private_ip": "10.9.8.7", "slot": "a"})
        session.flush()
        admin = Viewer("http://gateway/v1", operator=True)
        owner = Viewer("http://gateway/v1")
        stored = session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.reason == "server is up")).one()
        assert owner.event(stored).data == {"slot": "a"}
        assert admin.event(stored).data == stored.data

    events = client.get(f"/api/deployments/{deployment_id}/events", headers=auth)
    assert events.status_code == 200
    [up] = [event for event in events.json() if event["reason"] == "server is up"]
    assert up["data"] == {"slot": "a"}
    assert "10.9.8.7" not in events.text
