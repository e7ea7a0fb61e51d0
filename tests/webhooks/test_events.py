"""The outbox: status changes queue deliveries in the same transaction, per subscription."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, WebhookDelivery
from flowllama.domain.lifecycle import Status
from flowllama.services.deployment_status import change_status_and_notify

ALL = ["deployment.running", "deployment.unhealthy", "deployment.healed", "deployment.failed",
       "deployment.deleted"]


def move(db: Database, deployment_id: str, *targets: Status) -> None:
    for target in targets:
        with db.session() as session:
            row = session.get(Deployment, deployment_id)
            assert row is not None
            change_status_and_notify(session, row, target, f"test: {target}")


def deliveries(db: Database) -> list[WebhookDelivery]:
    with db.session() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(
            WebhookDelivery.created_at, WebhookDelivery.id)).all())


def test_running_queues_one_delivery_per_subscribed_webhook(database: Database, rows: Any
                                                             ) -> None:
    user = rows.user()
    deployment = rows.deployment(user)
    hook_all = rows.webhook(user, "https://a.example.com/", ALL)
    rows.webhook(user, "https://b.example.com/", ["deployment.failed"])
    with database.session() as session:
        session.add(Instance(deployment_id=deployment.id, provider="local",
                             endpoint_url="http://127.0.0.1:5001", status="healthy"))
    move(database, deployment.id, Status.RUNNING)
    [delivery] = deliveries(database)
    assert delivery.webhook_id == hook_all.id
    assert delivery.event == "deployment.running" and delivery.status == "pending"
    payload = delivery.payload
    assert payload["id"] == delivery.id and payload["event"] == "deployment.running"
    assert payload["created_at"]
    assert payload["deployment"] == {
        "id": deployment.id, "name": "chat", "model": "llama3.2:1b", "status": "running",
        "status_message": None, "endpoint_model": "chat"}
    # The runtime's own address never leaves the platform.
    assert "127.0.0.1:5001" not in json.dumps(payload)


def test_each_event_and_the_heal_path(database: Database, rows: Any) -> None:
    user = rows.user()
    deployment = rows.deployment(user)
    rows.webhook(user, "https://a.example.com/", ALL)
    move(database, deployment.id, Status.RUNNING, Status.UNHEALTHY, Status.HEALING,
         Status.STARTING, Status.RUNNING, Status.UNHEALTHY, Status.RUNNING, Status.STOPPING,
         Status.STOPPED, Status.PROVISIONING, Status.STARTING, Status.RUNNING, Status.FAILED,
         Status.DELETING, Status.DELETED)
    assert [d.event for d in deliveries(database)] == [
        "deployment.running", "deployment.unhealthy", "deployment.healed",
        "deployment.unhealthy", "deployment.healed", "deployment.running",
        "deployment.failed", "deployment.deleted"]
    assert deliveries(database)[-1].payload["deployment"]["endpoint_model"] is None


def test_nothing_subscribed_nothing_queued(database: Database, rows: Any) -> None:
    user, other = rows.user(), rows.user("bob@example.com")
    deployment = rows.deployment(user)
    rows.webhook(user, "https://a.example.com/", ["deployment.deleted"])
    rows.webhook(other, "https://b.example.com/", ALL)  # another tenant's webhook
    move(database, deployment.id, Status.RUNNING, Status.UNHEALTHY, Status.FAILED)
    assert deliveries(database) == []


def test_a_rolled_back_change_queues_nothing(database: Database, rows: Any) -> None:
    user = rows.user()
    deployment = rows.deployment(user)
    rows.webhook(user, "https://a.example.com/", ALL)
    with pytest.raises(RuntimeError), database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        change_status_and_notify(session, row, Status.RUNNING, "then something broke")
        session.flush()
        raise RuntimeError("boom")
    assert deliveries(database) == []
    with database.session() as session:
        assert session.get(Deployment, deployment.id).status == "starting"  # type: ignore[union-attr]
