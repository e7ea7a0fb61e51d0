"""The API client's token handling: two CLI processes with one stale login refresh it once
(the second uses the first's new tokens instead of spending the refresh token again, which
the API would treat as theft and answer by revoking the session)."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from client.conftest import URL, Cli
from factories import register_and_login
from flowllama.client.api import ApiClient
from flowllama.client.credentials import CredentialStore


def test_two_clients_refresh_a_stale_login_once(cli: Cli, client: TestClient) -> None:
    register_and_login(client)
    assert cli.login().exit_code == 0
    store = CredentialStore(cli.config_dir)
    stale = store.get(URL)
    assert stale is not None
    store.save(replace(stale, expires_at=0.0))
    first, second = ApiClient(URL, store), ApiClient(URL, store)
    assert first.get("/api/auth/me")["email"] == "ada@example.com"
    assert second.get("/api/auth/me")["email"] == "ada@example.com"
    assert first.login == second.login == store.get(URL)
    # The session survived: its current refresh token still works.
    fresh = store.get(URL)
    assert fresh is not None
    assert client.post("/api/auth/refresh",
                       json={"refresh_token": fresh.refresh_token}).status_code == 200
