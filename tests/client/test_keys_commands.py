"""``flowllama keys create|ls|revoke`` against the real API: the key is printed once, the list
never shows it, revoking by name removes it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from client.conftest import Cli
from factories import bearer, register_and_login


def test_create_list_revoke(cli: Cli, client: TestClient) -> None:
    auth = bearer(register_and_login(client))
    assert cli.login().exit_code == 0
    created = cli("keys", "create", "laptop", "--model", "chat", "--rpm", "60")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("fl-")
    [live] = client.get("/api/keys", headers=auth).json()
    assert (live["name"], live["models"], live["rpm"]) == ("laptop", ["chat"], 60)
    assert secret.startswith(live["prefix"])

    listed = cli("keys", "ls")
    assert "laptop" in listed.stdout and secret not in listed.stdout
    [as_json] = cli.json("keys", "ls")
    assert "key" not in as_json

    assert cli.json("keys", "revoke", "laptop") == {"id": live["id"], "name": "laptop",
                                                    "revoked": True}
    assert client.get("/api/keys", headers=auth).json() == []
    gone = cli("keys", "revoke", "laptop")
    assert gone.exit_code == 1 and "No API key" in gone.stderr


def test_ambiguous_names_are_refused(cli: Cli, client: TestClient) -> None:
    register_and_login(client)
    assert cli.login().exit_code == 0
    first = cli.json("keys", "create", "same")
    cli.json("keys", "create", "same")
    result = cli("keys", "revoke", "same")
    assert result.exit_code == 1 and "2 keys have the name" in result.stderr
    assert cli.json("keys", "revoke", first["id"])["revoked"] is True
