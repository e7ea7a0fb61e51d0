"""Helpers that build test data through the public API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from flowllama.platform import Platform
from flowllama.services import mail_outbox, password_reset

STRONG_PASSWORD = "correct horse battery staple"


def register_and_login(client: TestClient, email: str = "ada@example.com",
                       password: str = STRONG_PASSWORD) -> dict[str, str]:
    """Create an account and return its token pair."""
    assert client.post("/api/auth/register", json={"email": email, "password": password}
                       ).status_code == 201
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def work_the_mail_queues(platform: Platform) -> None:
    """What the accounts worker does every few seconds, now: turn queued password-reset
    requests into mail and send (or write to the outbox) what is due."""
    password_reset.process_requests(platform.db, platform.auth.reset_ttl_s,
                                    platform.settings.effective_public_url)
    mail_outbox.deliver_due(platform.db, platform.mailer)
