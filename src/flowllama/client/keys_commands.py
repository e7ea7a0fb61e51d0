"""``flowllama keys create|ls|revoke``: API keys for the token API (the key is shown once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape

from flowllama.client import resolve
from flowllama.client.output import (
    JsonOpt,
    UrlOpt,
    api_session,
    console,
    emit_json,
    err,
    table,
    when,
)

keys_app = typer.Typer(no_args_is_help=True, help="API keys for the token API (/v1)")


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by")],
    models: Annotated[list[str] | None, typer.Option(
        "--model", help="Allow only this deployment or model (repeatable)")] = None,
    expires_in_days: Annotated[int | None, typer.Option(
        "--expires-in-days", min=1, help="Expire after DAYS")] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute limit")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute limit")] = None,
    monthly_tokens: Annotated[int | None, typer.Option(
        "--monthly-tokens", help="Token budget per calendar month")] = None,
    url: UrlOpt = None, as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it (only now: it is stored hashed)."""
    body: dict[str, Any] = {"name": name}
    if models:
        body["models"] = models
    if expires_in_days is not None:
        body["expires_at"] = (datetime.now(UTC) + timedelta(days=expires_in_days)).isoformat()
    for key, value in (("rpm", rpm), ("tpm", tpm), ("monthly_token_budget", monthly_tokens)):
        if value is not None:
            body[key] = value
    with api_session(url, as_json) as client:
        created = client.post("/api/keys", body)
    if as_json:
        emit_json(created)
        return
    console.print(f"Created key [bold]{escape(created['name'])}[/] ([dim]{created['id']}[/]). "
                  "Copy it now, it is not shown again:")
    typer.echo(created["key"])  # plain, so it can be piped or copied whole
    err.print(f"Use it with: OPENAI_BASE_URL={client.url}/v1 OPENAI_API_KEY=<the key>")


@keys_app.command("ls")
def ls(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """List your live API keys (never the secret: only its prefix)."""
    with api_session(url, as_json) as client:
        keys: list[dict[str, Any]] = client.get("/api/keys")
    if as_json:
        emit_json(keys)
        return
    if not keys:
        console.print("No API keys: flowllama keys create NAME")
        return
    table(["NAME", "PREFIX", "MODELS", "LIMITS", "EXPIRES", "LAST USED", "ID"],
          [(k["name"], k["prefix"], ", ".join(k["models"]) if k.get("models") else "all",
            _limits(k), when(k.get("expires_at")), when(k.get("last_used_at")), k["id"])
           for k in keys])


def _limits(key: dict[str, Any]) -> str | None:
    parts = [f"{key[field]} {label}" for field, label in (
        ("rpm", "rpm"), ("tpm", "tpm"), ("monthly_token_budget", "tokens/month"))
        if key.get(field)]
    return ", ".join(parts) or None


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="Key id, name or prefix")],
    url: UrlOpt = None, as_json: JsonOpt = False,
) -> None:
    """Revoke an API key: the token API refuses it from now on."""
    with api_session(url, as_json) as client:
        found = resolve.api_key(client, key)
        client.delete(f"/api/keys/{found['id']}")
    if as_json:
        emit_json({"id": found["id"], "name": found["name"], "revoked": True})
        return
    console.print(f"Revoked key [bold]{escape(found['name'])}[/] ({found['prefix']}…)")
