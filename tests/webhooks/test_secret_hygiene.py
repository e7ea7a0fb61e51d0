"""The signing secret is shown once and never written to a log line."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from factories import bearer, register_and_login
from flowllama.db.tables import Deployment
from flowllama.domain.lifecycle import Status
from flowllama.platform import Platform
from flowllama.services.deployment_status import change_status_and_notify
from flowllama.settings import WebhookSettings
from flowllama.webhooks.dispatcher import WebhookDispatcher


def test_secret_never_reaches_the_logs(client: TestClient, platform: Platform,
                                       receiver: Any) -> None:
    platform.settings.webhooks.allow_hosts = ["127.0.0.1"]
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
        WebhookDispatcher(platform.db, WebhookSettings(allow_hosts=["127.0.0.1"])).run_once()
    assert receiver.requests, "the delivery was attempted"
    assert logs, "something was logged"
    assert created["secret"] not in repr(logs)
