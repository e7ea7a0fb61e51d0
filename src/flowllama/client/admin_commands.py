"""``flowllama admin users ls|disable|enable|promote`` and ``admin dead-letters ls|requeue``:
operator actions through ``/api/admin`` (the login must be an administrator's)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from flowllama.client import resolve
from flowllama.client.output import JsonOpt, UrlOpt, api_session, console, emit_json, table, when

admin_app = typer.Typer(no_args_is_help=True, help="Operator actions (administrators only)")
users_app = typer.Typer(no_args_is_help=True, help="User accounts")
dead_app = typer.Typer(no_args_is_help=True, help="Jobs that ran out of attempts")
admin_app.add_typer(users_app, name="users")
admin_app.add_typer(dead_app, name="dead-letters")

UserArg = Annotated[str, typer.Argument(help="The user's email or id")]


@users_app.command("ls")
def users_ls(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """List every account."""
    with api_session(url, as_json) as client:
        users = client.list_all("/api/admin/users")
    if as_json:
        emit_json(users)
        return
    table(["EMAIL", "ROLE", "TIER", "STATE", "CREATED", "ID"],
          [(u["email"], "admin" if u["is_admin"] else "user", u["tier"],
            f"disabled {when(u['disabled_at'])}" if u.get("disabled_at") else "active",
            when(u["created_at"]), u["id"]) for u in users])


def _user_action(action: str, ref: str, url: str | None, as_json: bool) -> dict[str, Any]:
    with api_session(url, as_json) as client:
        user = resolve.user(client, ref)
        changed: dict[str, Any] = client.post(f"/api/admin/users/{user['id']}/{action}")
    if as_json:
        emit_json(changed)
    return changed


@users_app.command("disable")
def users_disable(user: UserArg, url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Disable an account: its sessions end and its API keys are revoked."""
    changed = _user_action("disable", user, url, as_json)
    if not as_json:
        console.print(f"Disabled [bold]{escape(changed['email'])}[/]: sessions ended, "
                      "API keys revoked")


@users_app.command("enable")
def users_enable(user: UserArg, url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Let a disabled account log in again (revoked keys stay revoked)."""
    changed = _user_action("enable", user, url, as_json)
    if not as_json:
        console.print(f"Enabled [bold]{escape(changed['email'])}[/]")


@users_app.command("promote")
def users_promote(user: UserArg, url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Make an account an administrator."""
    changed = _user_action("promote", user, url, as_json)
    if not as_json:
        console.print(f"[bold]{escape(changed['email'])}[/] is now an administrator")


@dead_app.command("ls")
def dead_ls(
    user_id: Annotated[str | None, typer.Option("--user-id", help="Only this user's")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    url: UrlOpt = None, as_json: JsonOpt = False,
) -> None:
    """List dead-lettered jobs with the error of their last attempt."""
    with api_session(url, as_json) as client:
        jobs: list[dict[str, Any]] = client.get("/api/admin/dead-letters", limit=limit,
                                                user_id=user_id)["items"]
    if as_json:
        emit_json(jobs)
        return
    if not jobs:
        console.print("No dead letters")
        return
    table(["JOB", "KIND", "DEPLOYMENT", "ATTEMPTS", "FAILED", "ERROR"],
          [(j["id"], j["kind"], j.get("deployment_id"), j["attempts"], when(j.get("failed_at")),
            j.get("last_error")) for j in jobs])


@dead_app.command("requeue")
def dead_requeue(job_id: Annotated[str, typer.Argument(help="The job's id")],
                 url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Put a dead-lettered job back on the queue for another try."""
    with api_session(url, as_json) as client:
        requeued = client.post(f"/api/admin/dead-letters/{job_id}/requeue")
    if as_json:
        emit_json(requeued)
        return
    console.print(f"Requeued job {requeued['id']} ({requeued['status']})")
