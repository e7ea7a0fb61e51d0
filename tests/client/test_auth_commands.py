"""``flowllama login/whoami/logout`` against the real API: the token is kept 0600 in a 0700
dir, an expired access token is refreshed, logout revokes the session on the server, and a
wrong password prints the API's error and exits 1."""

from __future__ import annotations

import json
import stat

from fastapi.testclient import TestClient

from client.conftest import URL, Cli
from factories import register_and_login
from flowllama.client.credentials import CredentialStore


def test_login_whoami_logout(cli: Cli, client: TestClient) -> None:
    register_and_login(client)
    result = cli.login()
    assert result.exit_code == 0, result.output
    path = cli.config_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_dir.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())
    assert saved["current"] == URL and saved["servers"][URL]["refresh_token"]

    me = cli.json("whoami")
    assert (me["email"], me["url"], me["is_admin"]) == ("ada@example.com", URL, False)

    refresh_token = saved["servers"][URL]["refresh_token"]
    out = cli.json("logout")
    assert out == {"url": URL, "logged_out": True, "revoked": True}
    # Revoked on the server, not only forgotten here.
    again = client.post("/api/auth/refresh", json={"refresh_token": refresh_token})
    assert again.status_code == 401
    assert json.loads(path.read_text())["servers"] == {}
    result = cli("whoami", "--url", URL)
    assert result.exit_code == 1 and "Not logged in" in result.stderr


def test_an_expired_access_token_is_refreshed_and_stored(cli: Cli, client: TestClient) -> None:
    register_and_login(client)
    assert cli.login().exit_code == 0
    store = CredentialStore(cli.config_dir)
    before = store.get(URL)
    assert before is not None
    store.save(before.__class__(**{**before.__dict__, "expires_at": 0.0}))

    assert cli.json("whoami")["email"] == "ada@example.com"
    after = store.get(URL)
    assert after is not None and after.refresh_token != before.refresh_token
    assert not after.expired()
    # The old refresh token was spent by the CLI's refresh.
    assert client.post("/api/auth/refresh",
                       json={"refresh_token": before.refresh_token}).status_code == 401


def test_wrong_password_prints_the_api_error(cli: Cli, client: TestClient) -> None:
    register_and_login(client)
    result = cli.login(password="not the password")
    assert result.exit_code == 1
    assert "Invalid email or password" in result.stderr and "invalid_credentials" in result.stderr
    as_json = cli("login", "--url", URL, "--email", "ada@example.com", "--password-stdin",
                  "--json", input="nope\n")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"]["code"] == "invalid_credentials"
    assert not (cli.config_dir / "credentials.json").exists()


def test_no_server_given_is_a_clear_error(cli: Cli) -> None:
    bad = cli("login", "--url", "127.0.0.1:8000", "--email", "a@example.com")
    assert bad.exit_code == 1 and "is not an http(s) URL" in bad.stderr
    result = cli("ps", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == {
        "code": "no_server", "field": "url",
        "message": "No FlowLlama server given: pass --url, set FLOWLLAMA_URL, or run "
                   "`flowllama login --url URL` first"}
