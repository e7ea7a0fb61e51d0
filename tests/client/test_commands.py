"""Every command of the API client takes ``--json`` (scripts) and ``--url`` (which server)."""

from __future__ import annotations

import typer
from typer.main import get_command

from flowllama.client.commands import register

EXPECTED = {
    "login", "logout", "whoami", "deploy", "ps", "status", "events", "logs", "stop", "start",
    "restart", "rm", "usage", "chat", "keys create", "keys ls", "keys revoke", "edit",
    "deployments edit",
    "admin users ls", "admin users disable", "admin users enable", "admin users promote",
    "admin dead-letters ls", "admin dead-letters requeue",
}


def _leaves(command: object, prefix: str = "") -> dict[str, object]:
    children = getattr(command, "commands", None)
    if not children:
        return {prefix.strip(): command}
    found: dict[str, object] = {}
    for name, child in children.items():
        found.update(_leaves(child, f"{prefix} {name}"))
    return found


def test_every_command_has_json_and_url() -> None:
    app = typer.Typer()
    register(app)
    leaves = _leaves(get_command(app))
    assert set(leaves) == EXPECTED
    for name, command in leaves.items():
        options = {opt for param in command.params for opt in param.opts}  # type: ignore[attr-defined]
        assert {"--json", "--url"} <= options, name
