"""The agent runs the webhook dispatcher: a status change is delivered while it runs."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from flowllama.agent.composition import build_agent, local_provisioner
from flowllama.db.tables import Deployment, WebhookDelivery
from flowllama.domain.lifecycle import Status
from flowllama.platform import Platform
from flowllama.services.deployment_status import change_status_and_notify


def test_agent_starts_and_stops_the_dispatcher(platform: Platform, rows: Any,
                                               receiver: Any) -> None:
    platform.settings.webhooks.allow_hosts = ["127.0.0.1"]
    platform.settings.webhooks.allow_ports = [receiver.port]
    platform.settings.webhooks.poll_s = 0.05
    user = rows.user()
    rows.webhook(user, receiver.url, ["deployment.failed"])
    deployment = rows.deployment(user, status="stopped")
    agent = build_agent(platform, local_provisioner(platform), workers=1)
    agent.start()
    try:
        with platform.db.session() as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None
            row.desired_state = "stopped"
            change_status_and_notify(session, row, Status.FAILED, "out of retries",
                                     message="no capacity")
        deadline = time.monotonic() + 15
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        agent.stop(grace_s=5)
    assert [r.headers["X-FlowLlama-Event"] for r in receiver.requests] == ["deployment.failed"]
    with platform.db.session() as session:
        assert session.scalar(select(WebhookDelivery.status)) == "delivered"
