"""The signing secret is shown once and never written to a log line."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as StandardWebhook
from structlog.testing import capture_logs

from factories import bearer, register_and_login
from flowllama.db.tables import Deployment, User, Webhook
from flowllama.domain.lifecycle import Status
from flowllama.platform import Platform
from flowllama.services.deployment_status import change_status_and_notify
from flowllama.webhooks.dispatcher import WebhookDispatcher
from flowllama.webhooks.secrets import SecretBox, seal_plaintext


def test_secret_never_reaches_the_logs(client: TestClient, platform: Platform,
                                       receiver: Any) -> None:
    platform.settings.webhooks.allow_hosts = ["127.0.0.1"]
    platform.settings.webhooks.allow_ports = [receiver.port]
    headers = bearer(register_and_login(client))
    with capture_logs() as logs:
        created = client.post("/api/webhooks", headers=headers, json={
            "url": receiver.url, "events": ["deployment.running"]}).json()
        client.get("/api/webhooks", headers=headers)
        user_id = client.get("/api/auth/me", headers=headers).json()["id"]
        with platform.db.session() as session:
            deployment = Deployment(user_id=user_id, name="chat", model="m", context_size=2048,
                                    status="starting")
            session.add(deployment)
            session.flush()
            change_status_and_notify(session, deployment, Status.RUNNING, "server is up")
        receiver.answers = [(500, {})]
        WebhookDispatcher(platform.db, platform.settings.webhooks,
                          box=SecretBox.from_settings(platform.settings)).run_once()
    assert receiver.requests, "the delivery was attempted"
    assert logs, "something was logged"
    assert created["secret"] not in repr(logs)


def test_secret_is_stored_encrypted_and_still_signs(client: TestClient, platform: Platform,
                                                    receiver: Any) -> None:
    platform.settings.webhooks.allow_hosts = ["127.0.0.1"]
    platform.settings.webhooks.allow_ports = [receiver.port]
    headers = bearer(register_and_login(client))
    created = client.post("/api/webhooks", headers=headers, json={
        "url": receiver.url, "events": ["deployment.running"]}).json()
    with platform.db.session() as session:
        stored = session.scalars(select(Webhook.secret)).one()
    assert stored.startswith("enc:v1:") and created["secret"] not in stored
    _deliver_one(client, platform, headers)
    [request] = receiver.requests
    StandardWebhook(created["secret"]).verify(request.body, dict(request.headers))


def test_plaintext_secrets_from_before_are_sealed_in_place(platform: Platform) -> None:
    with platform.db.session() as session:
        user = User(email="old@example.com", password_hash="x")
        session.add(user)
        session.flush()
        session.add(Webhook(user_id=user.id, url="https://hooks.example.com/", events=[],
                            secret="whsec_legacy"))
    box = SecretBox.from_settings(platform.settings)
    assert seal_plaintext(platform.db, box) == 1
    assert seal_plaintext(platform.db, box) == 0  # idempotent
    with platform.db.session() as session:
        stored = session.scalars(select(Webhook.secret)).one()
    assert stored.startswith("enc:v1:") and box.open(stored) == "whsec_legacy"


def _deliver_one(client: TestClient, platform: Platform, headers: dict[str, str]) -> None:
    user_id = client.get("/api/auth/me", headers=headers).json()["id"]
    with platform.db.session() as session:
        deployment = Deployment(user_id=user_id, name="chat", model="m", context_size=2048,
                                status="starting")
        session.add(deployment)
        session.flush()
        change_status_and_notify(session, deployment, Status.RUNNING, "server is up")
    WebhookDispatcher(platform.db, platform.settings.webhooks,
                      box=SecretBox.from_settings(platform.settings)).run_once()
