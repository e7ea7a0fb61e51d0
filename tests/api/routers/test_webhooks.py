"""``/api/webhooks``: register (secret shown once), list, delete, delivery log; owner scoping
and the SSRF check at registration."""

from __future__ import annotations

import ipaddress

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import bearer, register_and_login
from flowllama.db.tables import User, Webhook, WebhookDelivery
from flowllama.platform import Platform
from flowllama.webhooks import ssrf
from flowllama.webhooks.secrets import SecretBox

ALL_EVENTS = ["deployment.running", "deployment.unhealthy", "deployment.healed",
              "deployment.failed", "deployment.deleted"]


@pytest.fixture(autouse=True)
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``*.example.com`` resolves to a public address, ``internal.example.com`` to 10.x."""

    def resolve(host: str, _port: int) -> list[ssrf.IPAddress]:
        if host == "internal.example.com":
            return [ipaddress.ip_address("10.0.0.7")]
        return [ipaddress.ip_address("93.184.215.14")]

    monkeypatch.setattr(ssrf, "system_resolver", resolve)


def _create(client: TestClient, headers: dict[str, str], url: str = "https://hooks.example.com/x",
            events: list[str] | None = None) -> dict[str, object]:
    response = client.post("/api/webhooks", headers=headers,
                           json={"url": url, "events": events or ALL_EVENTS})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_create_shows_the_secret_once_and_list_never(client: TestClient,
                                                      platform: Platform) -> None:
    headers = bearer(register_and_login(client))
    created = _create(client, headers, events=["deployment.running", "deployment.running"])
    secret = created["secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_") and len(secret) > 40
    assert created["events"] == ["deployment.running"]
    listed = client.get("/api/webhooks", headers=headers).json()
    assert [hook["id"] for hook in listed] == [created["id"]]
    assert "secret" not in listed[0] and secret not in str(listed)
    with platform.db.session() as session:  # kept, encrypted, to sign deliveries
        stored = session.scalar(select(Webhook.secret))
    assert stored is not None and secret not in stored
    assert SecretBox.from_settings(platform.settings).open(stored) == secret


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "https://hooks.example.com/", "events": ["deployment.exploded"]}, "events.0"),
    ({"url": "https://hooks.example.com/", "events": []}, "events"),
    ({"url": "https://hooks.example.com/"}, "events"),
    ({"url": "http://127.0.0.1/", "events": ALL_EVENTS}, "url"),
    ({"url": "http://[::1]/", "events": ALL_EVENTS}, "url"),
    ({"url": "http://10.1.1.1/", "events": ALL_EVENTS}, "url"),
    ({"url": "http://169.254.169.254/", "events": ALL_EVENTS}, "url"),
    ({"url": "http://2130706433/", "events": ALL_EVENTS}, "url"),
    ({"url": "http://0x7f000001/", "events": ALL_EVENTS}, "url"),
    ({"url": "https://internal.example.com/", "events": ALL_EVENTS}, "url"),
    ({"url": "ftp://hooks.example.com/", "events": ALL_EVENTS}, "url"),
    ({"url": "https://hooks.example.com/a\r\nX-Injected: 1", "events": ALL_EVENTS}, "url"),
    ({"url": "https://hooks.example.com/a\nb", "events": ALL_EVENTS}, "url"),
    ({"url": "https://hooks.example.com/a%0d%0aX-Injected:%201", "events": ALL_EVENTS}, "url"),
    ({"url": "https://hooks.example.com/a%0Ab", "events": ALL_EVENTS}, "url"),
    ({"url": "https://hooks.example.com:8080/", "events": ALL_EVENTS}, "url"),
    ({"url": "http://hooks.example.com:22/", "events": ALL_EVENTS}, "url"),
    ({"url": "https://hooks.example.com/", "events": ALL_EVENTS, "extra": 1}, "extra"),
])
def test_bad_input_is_a_422_naming_the_field(client: TestClient, body: dict[str, object],
                                              field: str) -> None:
    headers = bearer(register_and_login(client))
    response = client.post("/api/webhooks", headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert client.get("/api/webhooks", headers=headers).json() == []


def test_allow_list_lets_loopback_through(client: TestClient, platform: Platform) -> None:
    platform.settings.webhooks.allow_hosts = ["127.0.0.1"]
    platform.settings.webhooks.allow_ports = [9]
    headers = bearer(register_and_login(client))
    assert _create(client, headers, url="http://127.0.0.1:9/hook")["url"] == (
        "http://127.0.0.1:9/hook")


def test_other_users_webhooks_are_404(client: TestClient) -> None:
    ada = bearer(register_and_login(client))
    bob = bearer(register_and_login(client, "bob@example.com"))
    hook = _create(client, ada)
    assert client.get("/api/webhooks", headers=bob).json() == []
    assert client.delete(f"/api/webhooks/{hook['id']}", headers=bob).status_code == 404
    assert client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=bob).status_code == 404
    assert client.delete(f"/api/webhooks/{hook['id']}", headers=ada).status_code == 204
    assert client.delete(f"/api/webhooks/{hook['id']}", headers=ada).status_code == 404
    assert client.get("/api/webhooks", headers=ada).json() == []


def test_requires_authentication(client: TestClient) -> None:
    assert client.get("/api/webhooks").status_code == 401
    assert client.post("/api/webhooks", json={}).status_code == 401


def test_delivery_log_is_paginated_newest_first(client: TestClient, platform: Platform) -> None:
    headers = bearer(register_and_login(client))
    hook = _create(client, headers)
    with platform.db.session() as session:
        for number in range(5):
            session.add(WebhookDelivery(webhook_id=str(hook["id"]), event="deployment.running",
                                        payload={"n": number}, status="delivered", attempts=1,
                                        response_status=204))
    page = client.get(f"/api/webhooks/{hook['id']}/deliveries?limit=2&offset=0",
                      headers=headers).json()
    assert page["total"] == 5 and page["limit"] == 2 and len(page["items"]) == 2
    first = page["items"][0]
    assert first["status"] == "delivered" and first["response_status"] == 204
    assert first["next_attempt_at"] is None
    rest = client.get(f"/api/webhooks/{hook['id']}/deliveries?limit=10&offset=2",
                      headers=headers).json()
    assert len(rest["items"]) == 3
    assert client.get(f"/api/webhooks/{hook['id']}/deliveries?limit=0",
                      headers=headers).status_code == 422


def test_deleting_a_webhook_drops_its_deliveries(client: TestClient, platform: Platform) -> None:
    headers = bearer(register_and_login(client))
    hook = _create(client, headers)
    with platform.db.session() as session:
        session.add(WebhookDelivery(webhook_id=str(hook["id"]), event="deployment.failed",
                                    payload={}))
    assert client.delete(f"/api/webhooks/{hook['id']}", headers=headers).status_code == 204
    with platform.db.session() as session:
        assert session.scalars(select(WebhookDelivery)).all() == []
        assert session.scalar(select(User.email)) == "ada@example.com"


def test_webhooks_per_account_are_capped(client: TestClient, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    from flowllama.webhooks import registry

    monkeypatch.setattr(registry, "MAX_WEBHOOKS_PER_USER", 2)
    headers = bearer(register_and_login(client))
    _create(client, headers)
    _create(client, headers)
    response = client.post("/api/webhooks", headers=headers,
                           json={"url": "https://hooks.example.com/3", "events": ALL_EVENTS})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_many_webhooks"


def test_ports_80_and_443_are_allowed_and_the_setting_widens_them(
        client: TestClient, platform: Platform) -> None:
    headers = bearer(register_and_login(client))
    _create(client, headers, url="http://hooks.example.com:80/a")
    _create(client, headers, url="https://hooks.example.com:443/b")
    refused = client.post("/api/webhooks", headers=headers, json={
        "url": "https://hooks.example.com:8443/c", "events": ALL_EVENTS})
    assert refused.status_code == 422 and "8443" in refused.json()["error"]["message"]
    platform.settings.webhooks.allow_ports = [443, 8443]
    _create(client, headers, url="https://hooks.example.com:8443/c")


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_the_overlap(
        client: TestClient, platform: Platform) -> None:
    headers = bearer(register_and_login(client))
    created = _create(client, headers)
    rotated = client.post(f"/api/webhooks/{created['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["id"] == created["id"] and body["secret"] != created["secret"]
    assert body["secret"].startswith("whsec_") and body["previous_secret_expires_at"]
    box = SecretBox.from_settings(platform.settings)
    with platform.db.session() as session:
        row = session.scalars(select(Webhook)).one()
        assert box.open(row.secret) == body["secret"]
        assert row.previous_secret is not None
        assert box.open(row.previous_secret) == created["secret"]
    bob = bearer(register_and_login(client, "bob@example.com"))
    assert client.post(f"/api/webhooks/{created['id']}/rotate-secret",
                       headers=bob).status_code == 404
