"""Every command of the API client, added to the ``flowllama`` app in one call."""

from __future__ import annotations

import typer

from flowllama.client import auth_commands, deployment_commands
from flowllama.client.admin_commands import admin_app
from flowllama.client.chat import chat
from flowllama.client.keys_commands import keys_app
from flowllama.client.usage_commands import usage


def register(app: typer.Typer) -> None:
    """Add login/logout/whoami, the deployment commands, keys, usage, chat and admin."""
    auth_commands.register(app)
    deployment_commands.register(app)
    app.add_typer(keys_app, name="keys")
    app.command()(usage)
    app.command()(chat)
    app.add_typer(admin_app, name="admin")
