"""``flowllama external register``: an administrator's command to register (or update) an
inference server that already exists as a deployment (``cloud: external``).

It works directly against the configured database, like ``flowllama user create`` (it applies
pending migrations first), so it runs where no API is up yet: the Helm chart's hook Job runs it
on every upgrade. Re-running it with the same values changes nothing; with other values it
updates the registration. The secret is read from an environment variable (``--secret-env``),
never from the command line, which other users of the machine can read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from flowllama.command_settings import load_settings
from flowllama.errors import ClientError, ConfigError
from flowllama.settings import Settings

if TYPE_CHECKING:
    from flowllama.domain.external import ExternalDeploymentRegister

external_app = typer.Typer(no_args_is_help=True,
                           help="External inference servers (cloud: external)")
console = Console()
err = Console(stderr=True)

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env FLOWLLAMA_DATA_DIR)")
]


@external_app.command("register")
def register(
    *,
    name: Annotated[str, typer.Option("--name", help="Deployment name for its owner")],
    owner: Annotated[str, typer.Option("--owner", help="Email of the owning account")],
    base_url: Annotated[str, typer.Option("--base-url", help=(
        "ollama: the server's root (http://ollama:11434); openai: its OpenAI-compatible base "
        "(http://vllm:8000/v1)"))],
    api: Annotated[str, typer.Option("--api", help="ollama | openai")],
    secret_env: Annotated[str | None, typer.Option(
        "--secret-env", help="Environment variable holding the server's secret (sent as a "
        "bearer token); without it an existing secret is kept")] = None,
    clear_secret: Annotated[bool, typer.Option(
        "--clear-secret", help="Forget the stored secret")] = False,
    price_per_hour: Annotated[float | None, typer.Option(
        "--price-per-hour", help="What the server costs, $/h")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="Model name the server knows (default: the deployment name)")] = None,
    context_size: Annotated[int | None, typer.Option(
        "--context-size", help="Context window the gateway bounds requests by")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Register an existing Ollama or OpenAI-compatible server as OWNER's deployment NAME."""
    from flowllama.domain.external import ExternalDeploymentRegister

    fields: dict[str, object] = {"name": name, "owner_email": owner, "base_url": base_url,
                                 "api": api, "clear_secret": clear_secret,
                                 "price_per_hour": price_per_hour, "model": model}
    if context_size is not None:
        fields["context_size"] = context_size
    if secret_env is not None:
        fields["secret"] = _secret_from(secret_env)
    try:
        body = ExternalDeploymentRegister.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            err.print(f"[red]{where}: {error['msg']}[/]")
        raise typer.Exit(2) from exc
    outcome = _register(body, load_settings(data_dir=data_dir))
    if as_json:
        console.print_json(json.dumps(outcome))
        return
    verb = "Registered" if outcome["created"] else (
        "Updated" if outcome["changed"] else "Unchanged:")
    console.print(f"{verb} external {api} server [bold]{name}[/] for {owner} "
                  f"(deployment {outcome['id']}, {outcome['status']})")


def _secret_from(variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        err.print(f"[red]--secret-env: the environment variable {variable} is unset or "
                  "empty[/]")
        raise typer.Exit(2)
    return value


def _register(body: ExternalDeploymentRegister, settings: Settings) -> dict[str, object]:
    """Migrate, register in one transaction, then nudge the agent (the sweep is the fallback)."""
    from flowllama.db import migrate
    from flowllama.platform import build_platform
    from flowllama.services import deployments, external_servers

    try:
        platform = build_platform(settings)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    try:
        migrate.upgrade(settings.effective_database_url)
        with platform.db.session() as session:
            registered = external_servers.register(session, platform.upstream_secrets, body)
            deployment = registered.deployment
            outcome: dict[str, object] = {
                "id": deployment.id, "name": deployment.name, "status": deployment.status,
                "created": registered.new, "changed": registered.changed}
            if registered.new:  # an update rewrites records in place; the agent has no step
                deployments.commit_and_nudge(session, platform.queue, deployment)
    except ClientError as exc:
        field = f"{exc.field}: " if exc.field else ""
        err.print(f"[red]{field}{exc.message}[/]")
        raise typer.Exit(1) from exc
    finally:
        platform.close()
    return outcome
