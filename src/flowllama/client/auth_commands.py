"""``flowllama login``, ``logout`` and ``whoami``."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from flowllama.client.api import URL_ENV, ApiClient, ApiError, login_from_tokens, resolve_url
from flowllama.client.credentials import CredentialStore, normalise_url
from flowllama.client.output import JsonOpt, UrlOpt, api_session, console, emit_json, err, fail

DEFAULT_URL = "http://127.0.0.1:8000"


def login(
    url: UrlOpt = None,
    email: Annotated[str | None, typer.Option(help="Account email (prompted if omitted)")
                     ] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (for scripts)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Log in to a FlowLlama server and keep the token in your config dir (mode 0600)."""
    store = CredentialStore()
    try:
        server = resolve_url(url or os.environ.get(URL_ENV) or store.current_url()
                             or DEFAULT_URL, store)
    except ApiError as exc:
        fail(exc, as_json)
    if email is None:
        email = typer.prompt("Email")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    client = ApiClient(server, store)
    try:
        tokens = client.post("/api/auth/login", {"email": email, "password": password},
                             auth=False)
    except ApiError as exc:
        fail(exc, as_json)
    finally:
        client.close()
    saved = login_from_tokens(server, email, tokens)
    store.save(saved)
    if as_json:
        emit_json({"url": saved.url, "email": saved.email, "expires_at": saved.expires_at,
                   "credentials": str(store.path)})
        return
    console.print(f"Logged in to [bold]{saved.url}[/] as [bold]{saved.email}[/] "
                  f"(token kept in {store.path})")


def logout(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """End the session on the server (its refresh token is revoked) and forget it here."""
    store = CredentialStore()
    server = normalise_url(url or os.environ.get(URL_ENV) or store.current_url() or "")
    revoked = False
    if server and store.get(server):
        client = ApiClient(server, store)
        try:
            client.post("/api/auth/logout")
            revoked = True
        except ApiError as exc:  # expired or unreachable: still forget it locally
            err.print(f"[yellow]The server did not end the session:[/] {exc.message}")
        finally:
            client.close()
    removed = bool(server) and store.remove(server)
    if as_json:
        emit_json({"url": server or None, "logged_out": removed, "revoked": revoked})
        return
    if removed:
        console.print(f"Logged out of [bold]{server}[/]")
    else:
        console.print("Not logged in" + (f" to {server}" if server else ""))


def whoami(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Show who you are logged in as, and where."""
    with api_session(url, as_json) as client:
        me = client.get("/api/auth/me")
        if as_json:
            emit_json({**me, "url": client.url})
            return
        role = "administrator" if me.get("is_admin") else "user"
        console.print(f"[bold]{me['email']}[/] ({role}, tier {me.get('tier')}) "
                      f"on {client.url} [dim]id {me['id']}[/]")


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    app.command()(whoami)
