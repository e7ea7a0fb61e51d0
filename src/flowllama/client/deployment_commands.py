"""``flowllama deploy``, ``ps``, ``status``, ``edit``, ``events``, ``logs``, ``stop``,
``start``, ``restart`` and ``rm``: the caller's deployments, by name or id (``edit`` is also
``flowllama deployments edit``)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import typer
from rich.markup import escape

from flowllama.client import resolve
from flowllama.client.api import ApiClient
from flowllama.client.output import (
    JsonOpt,
    UrlOpt,
    api_session,
    console,
    emit_json,
    emit_json_line,
    err,
    money,
    table,
    when,
)
from flowllama.client.watch import event_count, event_line, follow_logs, wait_for

NameArg = Annotated[str, typer.Argument(help="Deployment name or id")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="Show progress until it gets there")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Give up waiting after SECONDS")]
# Placement options shared by `deploy` and `edit` (the same fields of the deployment API).
ParallelOpt = Annotated[int | None, typer.Option(help="Parallel request slots")]
SpotOpt = Annotated[str | None, typer.Option(help="Spot tolerance: none | low | high")]
GpuOpt = Annotated[str | None, typer.Option(help="auto | none | T4 | L4 | A10G | A100 ...")]
CloudOpt = Annotated[str | None, typer.Option(help="auto | aws | gcp | local")]
RegionOpt = Annotated[str | None, typer.Option(help="Pin a region")]
InstanceTypeOpt = Annotated[str | None, typer.Option(help="Pin an instance type")]
RuntimeOpt = Annotated[str | None, typer.Option(help="auto | ollama | llamacpp")]
# What each action waits for (besides "failed", which always ends a wait).
ACTION_TARGETS = {"stop": {"stopped"}, "start": {"running"}, "restart": {"running"}}


def default_name(model: str) -> str:
    """A deployment name from a model tag: ``local/tiny`` → ``tiny``,
    ``llama3.1:8b`` → ``llama3-1-8b``."""
    base = model.rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9]+", "-", base).strip("-")[:63] or "deployment"


def deploy(
    model: Annotated[str, typer.Argument(help="Model tag, e.g. llama3.1:8b or local/<stem>")],
    name: Annotated[str | None, typer.Option(help="Deployment name (default: from MODEL)")
                    ] = None,
    context: Annotated[int | None, typer.Option(
        "--context", help="Context size in tokens (default: the API's)")] = None,
    parallel: ParallelOpt = None, spot: SpotOpt = None, gpu: GpuOpt = None,
    cloud: CloudOpt = None, region: RegionOpt = None, instance_type: InstanceTypeOpt = None,
    runtime: RuntimeOpt = None,
    wait: WaitOpt = False, timeout: TimeoutOpt = 1800.0,
    url: UrlOpt = None, as_json: JsonOpt = False,
) -> None:
    """Deploy MODEL; with --wait, follow its events until it runs (exit 1 if it fails)."""
    body: dict[str, Any] = {"name": name or default_name(model), "model": model}
    for key, value in (("context_size", context), ("parallel", parallel),
                       ("spot_tolerance", spot), ("gpu", gpu), ("cloud", cloud),
                       ("region", region), ("instance_type", instance_type),
                       ("runtime", runtime)):
        if value is not None:
            body[key] = value
    with api_session(url, as_json) as client:
        # One key per invocation: a retried request never creates a second deployment.
        created = client.post("/api/deployments", body,
                              headers={"Idempotency-Key": str(uuid.uuid4())})
        if not as_json:
            price = money(created.get("price_per_hour"))
            console.print(f"Deploying [bold]{escape(created['name'])}[/] "
                          f"([dim]{created['id']}[/]) — {created['model']}, "
                          f"{created['status']}" + (f", {price}/h" if price else ""))
        if wait:
            created = wait_for(client, created["id"], {"running"}, show=not as_json,
                               timeout_s=timeout)
        _finish(created, as_json, wait)


def _finish(deployment: dict[str, Any], as_json: bool, waited: bool) -> None:
    if as_json:
        emit_json(deployment)
    elif waited and deployment["status"] == "running":
        console.print(f"[green]{escape(deployment['name'])} is running[/]: "
                      f"{deployment.get('endpoint_url')} "
                      f"(model {deployment.get('endpoint_model')})")
    if deployment["status"] == "failed":
        if not as_json:
            err.print(f"[red]{escape(deployment['name'])} failed:[/] "
                      f"{escape(str(deployment.get('status_message') or 'no reason given'))}")
        raise typer.Exit(1)


def ps(url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """List your deployments."""
    with api_session(url, as_json) as client:
        items = client.list_all("/api/deployments")
    if as_json:
        emit_json(items)
        return
    if not items:
        console.print("No deployments yet: flowllama deploy MODEL")
        return
    table(["NAME", "STATUS", "MODEL", "WHERE", "$/H", "COST", "ID"],
          [(d["name"], d["status"], d["model"], _where(d), money(d.get("price_per_hour")),
            money(d.get("cost_so_far_usd"), 2), d["id"]) for d in items])


def _where(deployment: dict[str, Any]) -> str:
    placement = deployment.get("placement") or {}
    parts = [placement.get("cloud") or deployment.get("cloud"), placement.get("region"),
             placement.get("instance_type"), "spot" if placement.get("spot") else None]
    return " ".join(str(part) for part in parts if part)


def status(name: NameArg, url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Show one deployment: status, placement, price, endpoint and instances."""
    with api_session(url, as_json) as client:
        deployment = resolve.deployment(client, name)
    if as_json:
        emit_json(deployment)
        return
    rows = [("status", deployment["status"] + (f" — {deployment['status_message']}"
                                               if deployment.get("status_message") else "")),
            ("desired", deployment["desired_state"]), ("model", deployment["model"]),
            ("runtime", deployment["runtime"]), ("context", deployment["context_size"]),
            ("where", _where(deployment)), ("price", money(deployment.get("price_per_hour"))),
            ("cost so far", money(deployment.get("cost_so_far_usd"), 2)),
            ("endpoint", f"{deployment['endpoint_url']} (model {deployment['endpoint_model']})"),
            ("created", when(deployment["created_at"])), ("id", deployment["id"])]
    table(["", ""], rows + _autopilot_rows(deployment), title=deployment["name"])
    if deployment["instances"]:
        table(["INSTANCE", "STATUS", "PROVIDER", "TYPE", "LAST CHECK", "LATENCY MS", "ERROR"],
              [(i["id"], i["status"], i["provider"], i.get("instance_type"),
                when(i.get("last_check_at")), _ms(i.get("last_latency_ms")), i.get("last_error"))
               for i in deployment["instances"]])


def _autopilot_rows(deployment: dict[str, Any]) -> list[tuple[str, Any]]:
    """Replicas, generation, sleep and the last roll's error, where the API has them."""
    replicas = deployment.get("replicas")
    if not replicas:
        return []
    rows: list[tuple[str, Any]] = [
        ("replicas", f"{replicas['running']} running of {replicas['desired']} "
                     f"(min {replicas['min']}, max {replicas['max']})"),
        ("generation", deployment.get("generation")),
        ("idle timeout", f"{deployment['idle_timeout_s']} s"
         if deployment.get("idle_timeout_s") else "off")]
    if deployment.get("rollout_error"):
        rows.append(("rollout error", deployment["rollout_error"]))
    return rows


def _ms(value: float | None) -> str | None:
    return None if value is None else f"{value:.0f}"


def events(name: NameArg, url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Show a deployment's status changes, oldest first."""
    with api_session(url, as_json) as client:
        deployment = resolve.deployment(client, name)
        rows = _all_events(client, deployment["id"])
    if as_json:
        emit_json(rows)
        return
    for event in rows:
        console.print(escape(event_line(event)))


def _all_events(client: ApiClient, deployment_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = client.get(f"/api/deployments/{deployment_id}/events", limit=200,
                          offset=len(rows))
        rows.extend(page)
        if len(page) < 200:
            return rows


def logs(
    name: NameArg,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines")
                      ] = False,
    tail: Annotated[int, typer.Option(min=1, max=5000, help="Lines to show")] = 100,
    url: UrlOpt = None, as_json: JsonOpt = False,
) -> None:
    """Show a deployment's server log (local deployments; cloud ones say where theirs go)."""
    with api_session(url, as_json) as client:
        deployment = resolve.deployment(client, name)
        got = client.get(f"/api/deployments/{deployment['id']}/logs", tail=tail)
        if as_json and not follow:
            emit_json(got)
            return
        if got["source"] == "none":
            err.print(f"[yellow]No server log here:[/] {escape(str(got.get('message')))}; "
                      f"see `flowllama events {escape(deployment['name'])}`")
            return
        emit = _json_line if as_json else _plain_line
        for line in got["lines"]:
            emit(line)
        if follow:
            follow_logs(client, deployment["id"], emit, got["lines"])


def _plain_line(line: str) -> None:
    console.print(escape(line), soft_wrap=True)


def _json_line(line: str) -> None:
    emit_json_line({"line": line})


def _act(action: str, name: str, wait: bool, timeout: float, url: str | None,
         as_json: bool) -> None:
    with api_session(url, as_json) as client:
        deployment = resolve.deployment(client, name)
        seen = event_count(client, deployment["id"]) if wait else 0
        acted = client.post(f"/api/deployments/{deployment['id']}/{action}")
        if not as_json:
            console.print(f"{action.capitalize()} requested for [bold]"
                          f"{escape(acted['name'])}[/] (now {acted['status']})")
        if wait:
            acted = wait_for(client, acted["id"], ACTION_TARGETS[action], show=not as_json,
                             timeout_s=timeout, seen=seen)
            if not as_json and acted["status"] != "failed":
                console.print(f"[green]{escape(acted['name'])} is {acted['status']}[/]")
        _finish(acted, as_json, waited=False)


def stop(name: NameArg, wait: WaitOpt = False, timeout: TimeoutOpt = 600.0,
         url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Stop a deployment (its server goes away; it keeps its settings)."""
    _act("stop", name, wait, timeout, url, as_json)


def start(name: NameArg, wait: WaitOpt = False, timeout: TimeoutOpt = 1800.0,
          url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Start a stopped deployment."""
    _act("start", name, wait, timeout, url, as_json)


def restart(name: NameArg, wait: WaitOpt = False, timeout: TimeoutOpt = 1800.0,
            url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Replace a running deployment's server with a fresh one."""
    _act("restart", name, wait, timeout, url, as_json)


def rm(name: NameArg,
       yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")
                      ] = False,
       wait: WaitOpt = False, timeout: TimeoutOpt = 600.0,
       url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a deployment and its server (asks first; --yes to skip)."""
    with api_session(url, as_json) as client:
        deployment = resolve.deployment(client, name)
        if not yes and not typer.confirm(
                f"Delete {deployment['name']} ({deployment['id']}) and its server?"):
            err.print("Not deleted")
            raise typer.Exit(1)
        seen = event_count(client, deployment["id"]) if wait else 0
        deleted = client.delete(f"/api/deployments/{deployment['id']}")
        if wait:
            deleted = wait_for(client, deployment["id"], {"deleted"}, show=not as_json,
                               timeout_s=timeout, seen=seen)
    if as_json:
        emit_json(deleted)
        return
    state = "deleted" if deleted["status"] == "deleted" else f"{deleted['status']} (deleting)"
    console.print(f"[bold]{escape(deployment['name'])}[/] {state}")


IDLE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def idle_seconds(text: str) -> int | None:
    """``--idle-timeout``: ``off`` (never sleep) or a duration (``1800``, ``30m``, ``2h``)."""
    value = text.strip().lower()
    if value in ("off", "never", "none"):
        return None
    match = re.fullmatch(r"(\d+)([smhd]?)", value)
    if match is None:
        raise typer.BadParameter("use seconds, a duration such as 30m or 2h, or 'off'")
    return int(match.group(1)) * IDLE_UNITS[match.group(2) or "s"]


def edit(
    name: NameArg,
    model: Annotated[str | None, typer.Option(help="Another model tag")] = None,
    context: Annotated[int | None, typer.Option(
        "--context-size", "--context", help="Context size in tokens")] = None,
    parallel: ParallelOpt = None, spot: SpotOpt = None, gpu: GpuOpt = None,
    cloud: CloudOpt = None, region: RegionOpt = None, instance_type: InstanceTypeOpt = None,
    runtime: RuntimeOpt = None,
    replicas_min: Annotated[int | None, typer.Option(help="Fewest servers (1-16)")] = None,
    replicas_max: Annotated[int | None, typer.Option(help="Most servers (1-16)")] = None,
    idle_timeout: Annotated[str | None, typer.Option(
        help="Sleep after this long without requests (1800, 30m, 2h) or 'off'")] = None,
    auto_move: Annotated[bool | None, typer.Option(
        "--auto-move/--no-auto-move", help="Apply cheaper placements automatically")] = None,
    url: UrlOpt = None, as_json: JsonOpt = False,
) -> None:
    """Change a deployment; a new spec rolls new servers in without a gap."""
    body: dict[str, Any] = {key: value for key, value in (
        ("model", model), ("context_size", context), ("parallel", parallel),
        ("spot_tolerance", spot), ("gpu", gpu), ("cloud", cloud), ("region", region),
        ("instance_type", instance_type), ("runtime", runtime), ("auto_move", auto_move),
    ) if value is not None}
    if idle_timeout is not None:
        body["idle_timeout_s"] = idle_seconds(idle_timeout)
    with api_session(url, as_json) as client:
        deployment = resolve.deployment(client, name)
        if replicas_min is not None or replicas_max is not None:
            body["replicas"] = _replicas(deployment, replicas_min, replicas_max)
        changed = client.patch(f"/api/deployments/{deployment['id']}", body)
    if as_json:
        emit_json(changed)
        return
    console.print(_edit_summary(deployment, changed))


def _replicas(current: dict[str, Any], low: int | None, high: int | None) -> dict[str, int]:
    """Both bounds, the one not given kept (and moved along when it would cross the other)."""
    known = current.get("replicas") or {"min": 1, "max": 1}
    if low is None:
        assert high is not None
        return {"min": min(int(known["min"]), high), "max": high}
    return {"min": low, "max": high if high is not None else max(int(known["max"]), low)}


def _edit_summary(before: dict[str, Any], after: dict[str, Any]) -> str:
    label = f"[bold]{escape(after['name'])}[/]"
    if after.get("generation") != before.get("generation"):
        return (f"Changed {label}: new servers roll in (generation {after['generation']}), "
                f"the current ones serve until they are healthy")
    if after.get("updated_at") != before.get("updated_at"):
        replicas = after.get("replicas") or {}
        return (f"Changed {label} (replicas {replicas.get('min')}..{replicas.get('max')}, "
                f"idle timeout {after.get('idle_timeout_s') or 'off'})")
    return f"{label} already has these settings: nothing changed"


def register(app: typer.Typer) -> None:
    for command in (deploy, ps, status, edit, events, logs, stop, start, restart, rm):
        app.command()(command)
    group = typer.Typer(no_args_is_help=True, help="Your deployments")
    group.command("edit")(edit)
    app.add_typer(group, name="deployments")
