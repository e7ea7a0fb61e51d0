"""``flowllama deploy/ps/status/events/logs/stop/start/rm`` against the real API (no agent
runs here, so deployments stay pending: what is checked is what the API recorded). Names and
ids both work; a bad request prints the API's message and field; ``rm`` asks first."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from client.conftest import Cli
from factories import bearer, register_and_login
from flowllama.client.deployment_commands import default_name

DEPLOY = ("deploy", "llama3.1:8b", "--name", "chat", "--context", "8192", "--cloud", "aws")


@pytest.fixture
def auth(cli: Cli, client: TestClient) -> dict[str, str]:
    tokens = register_and_login(client)
    assert cli.login().exit_code == 0
    return bearer(tokens)


def _row(client: TestClient, auth: dict[str, str], deployment_id: str) -> dict[str, Any]:
    response = client.get(f"/api/deployments/{deployment_id}", headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_deploy_list_show_and_act(cli: Cli, client: TestClient, auth: dict[str, str]) -> None:
    result = cli(*DEPLOY, "--spot", "low")
    assert result.exit_code == 0, result.output
    assert "Deploying chat" in result.stdout
    [listed] = cli.json("ps")
    row = _row(client, auth, listed["id"])
    assert (row["name"], row["context_size"], row["spot_tolerance"]) == ("chat", 8192, "low")

    assert cli.json("status", "chat")["id"] == row["id"]
    assert cli.json("status", row["id"])["name"] == "chat"  # an id works too
    assert "chat" in cli("status", "chat").stdout
    [created] = cli.json("events", "chat")
    assert created["to_status"] == "pending"
    assert "→ pending" in cli("events", "chat").stdout

    assert cli.json("stop", "chat")["desired_state"] == "stopped"
    assert _row(client, auth, row["id"])["desired_state"] == "stopped"
    assert cli.json("start", "chat")["desired_state"] == "running"

    refused = cli("rm", "chat", input="n\n")
    assert refused.exit_code == 1 and "Not deleted" in refused.stderr
    assert _row(client, auth, row["id"])["desired_state"] == "running"
    assert cli("rm", "chat", "--yes").exit_code == 0
    assert _row(client, auth, row["id"])["desired_state"] == "deleted"


def test_logs_of_a_cloud_deployment_say_where_they_are(cli: Cli, auth: dict[str, str]) -> None:
    assert cli(*DEPLOY).exit_code == 0
    result = cli("logs", "chat")
    assert result.exit_code == 0 and "No server log here" in result.stderr
    assert cli.json("logs", "chat")["source"] == "none"


def test_api_errors_print_message_code_and_field(cli: Cli, auth: dict[str, str]) -> None:
    result = cli("deploy", "llama3.1:8b", "--name", "Bad_Name", "--cloud", "aws")
    assert result.exit_code == 1
    assert "(field: name)" in result.stderr and "invalid_input" in result.stderr
    again = cli(*DEPLOY, "--json")
    assert again.exit_code == 0
    duplicate = cli(*DEPLOY, "--json")
    assert duplicate.exit_code == 1
    assert json.loads(duplicate.stdout)["error"]["status"] == 409
    missing = cli("status", "nope", "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"


def test_another_users_deployment_is_not_found(cli: Cli, client: TestClient,
                                               auth: dict[str, str]) -> None:
    other = bearer(register_and_login(client, "bob@example.com"))
    theirs = client.post("/api/deployments", headers=other, json={
        "name": "theirs", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws"}).json()
    for ref in ("theirs", theirs["id"]):
        result = cli("rm", ref, "--yes")
        assert result.exit_code == 1 and "No deployment" in result.stderr
    assert _row(client, other, theirs["id"])["desired_state"] == "running"


@pytest.mark.parametrize(("model", "name"), [
    ("local/tiny", "tiny"), ("llama3.1:8b", "llama3-1-8b"), ("Qwen2.5:0.5B", "qwen2-5-0-5b")])
def test_default_names_are_valid_deployment_names(model: str, name: str) -> None:
    assert default_name(model) == name


def test_edit_changes_the_spec_and_the_replicas(cli: Cli, client: TestClient,
                                                auth: dict[str, str]) -> None:
    assert cli(*DEPLOY).exit_code == 0
    result = cli("edit", "chat", "--context-size", "16384")
    assert result.exit_code == 0, result.output
    assert "new servers roll in (generation 1)" in result.stdout
    changed = cli.json("deployments", "edit", "chat", "--replicas-max", "3",
                       "--idle-timeout", "30m", "--auto-move")
    assert (changed["context_size"], changed["generation"]) == (16384, 1)
    assert changed["replicas"] == {"min": 1, "max": 3, "desired": 1, "running": 0}
    assert (changed["idle_timeout_s"], changed["auto_move"]) == (1800, True)
    # A min above the current max moves the max along; "off" clears the idle timeout.
    moved = cli.json("edit", "chat", "--replicas-min", "4", "--idle-timeout", "off")
    assert moved["replicas"]["min"] == moved["replicas"]["max"] == 4
    assert moved["idle_timeout_s"] is None
    assert "nothing changed" in cli("edit", "chat", "--replicas-min", "4").stdout
    assert "0 running of 4 (min 4, max 4)" in cli("status", "chat").stdout


def test_edit_prints_what_the_api_refused(cli: Cli, auth: dict[str, str]) -> None:
    assert cli(*DEPLOY).exit_code == 0
    refused = cli("edit", "chat", "--model", "llama9:999b")
    assert refused.exit_code == 1 and "(field: model)" in refused.stderr
    bad = cli("edit", "chat", "--idle-timeout", "soon")
    assert bad.exit_code != 0
