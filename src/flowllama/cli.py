"""The ``flowllama`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from flowllama.client.commands import register as register_client_commands
from flowllama.cloud_commands import cloud_app
from flowllama.command_settings import load_settings
from flowllama.errors import ClientError, ConfigError
from flowllama.external_commands import external_app
from flowllama.loadtest.commands import loadtest_app
from flowllama.model_commands import register as register_model_commands
from flowllama.private_files import make_process_private
from flowllama.web import commands as web_commands

app = typer.Typer(no_args_is_help=True, add_completion=False, help="FlowLlama: Ollama as a Service")
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
user_app = typer.Typer(no_args_is_help=True, help="User accounts")
dev_app = typer.Typer(no_args_is_help=True, help="Developer tools")
pricing_app = typer.Typer(no_args_is_help=True, help="Cloud prices")
web_app = typer.Typer(no_args_is_help=True, help="The static web UI")
app.add_typer(web_app, name="web")
web_commands.register(web_app)
app.add_typer(pricing_app, name="pricing")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(dev_app, name="dev")
app.add_typer(cloud_app, name="cloud")
register_model_commands(app, pricing_app)
app.add_typer(loadtest_app, name="loadtest")
app.add_typer(external_app, name="external")
register_client_commands(app)

console = Console()
err = Console(stderr=True)

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env FLOWLLAMA_DATA_DIR)")
]
# Command groups whose files are for others to read: `web export` writes a static site for a
# web server. Every other command keeps what it writes to this user.
PUBLIC_OUTPUT_GROUPS = frozenset({"web"})
BUILT_ROLES = {"api", "gateway", "agent", "monitor", "dashboard"}
KNOWN_ROLES = ("api", "gateway", "agent", "monitor", "dashboard")


@app.callback()
def private_by_default(ctx: typer.Context) -> None:
    """Run every command (but those of PUBLIC_OUTPUT_GROUPS) with umask 077, so the database,
    secrets, mail and logs it creates are 0600 and its folders 0700 (private_files.py)."""
    if ctx.invoked_subcommand not in PUBLIC_OUTPUT_GROUPS:
        make_process_private()


@app.command()
def up(host: HostOpt = None, port: PortOpt = None, data_dir: DataDirOpt = None) -> None:
    """Run the whole platform in one process (SQLite, local runtimes, web UI)."""
    from flowllama.server import ALL_ROLES, serve

    serve(load_settings(host, port, data_dir), ALL_ROLES)


@app.command("serve")
def serve_role(
    role: Annotated[str, typer.Argument(help="api | gateway | agent | monitor | dashboard")],
    host: HostOpt = None, port: PortOpt = None, data_dir: DataDirOpt = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, max=64,
        help="Agent worker threads (agent), or gateway processes (gateway)")] = None,
) -> None:
    """Run one role on its own."""
    if role not in KNOWN_ROLES:
        err.print(f"[red]Unknown role {role!r}[/]; choose one of {', '.join(KNOWN_ROLES)}")
        raise typer.Exit(2)
    if workers is not None and role not in ("agent", "gateway"):
        err.print(f"[red]--workers applies to the agent and gateway roles, not {role}[/]")
        raise typer.Exit(2)
    if role not in BUILT_ROLES:
        err.print(f"[yellow]The {role} role is not available in this release yet.[/]")
        raise typer.Exit(3)
    if role in ("agent", "monitor"):
        from flowllama.server import serve_background

        serve_background(load_settings(data_dir=data_dir), role, workers=workers)
        return
    if role == "gateway" and workers is not None and workers > 1:
        from flowllama.server import serve_gateway_processes

        serve_gateway_processes(load_settings(host, port, data_dir), workers)
        return
    from flowllama.server import serve

    serve(load_settings(host, port, data_dir), [role])


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDirOpt = None,
               revision: Annotated[str, typer.Option(help="Target revision")] = "head") -> None:
    """Apply database migrations."""
    from flowllama.db import migrate
    from flowllama.platform import make_data_private

    settings = load_settings(data_dir=data_dir)
    make_data_private(settings)
    migrate.upgrade(settings.effective_database_url, revision)
    console.print(f"Database is at revision [bold]{revision}[/].")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Email address (login name)")],
    admin: Annotated[bool, typer.Option("--admin", help="Grant administrator rights")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a user account (the password is prompted for, or read from stdin)."""
    from flowllama.db import migrate
    from flowllama.platform import build_platform
    from flowllama.services import users

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = load_settings(data_dir=data_dir)
    platform = build_platform(settings)
    migrate.upgrade(settings.effective_database_url)
    try:
        with platform.db.session() as session:
            user = users.create_user(session, email, password, is_admin=admin)
    except ClientError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    finally:
        platform.close()
    role = "administrator" if admin else "user"
    console.print(f"Created {role} [bold]{user.email}[/] (id {user.id})")


@app.command()
def estimate(
    model: Annotated[str, typer.Argument(help="Model tag, e.g. llama3.1:8b or local/<stem>")],
    context: Annotated[int | None, typer.Option("--context", help="Context size")] = None,
    parallel: Annotated[int, typer.Option(help="Parallel request slots")] = 1,
    spot: Annotated[str, typer.Option(help="Spot tolerance: none | low | high")] = "none",
    gpu: Annotated[str, typer.Option(help="auto | none | T4 | L4 | A10G | A100 | H100 ...")
                   ] = "auto",
    clouds: Annotated[str, typer.Option(help="Comma-separated clouds")] = "aws,gcp",
    regions: Annotated[str | None, typer.Option(help="Comma-separated regions")] = None,
    instance_type: Annotated[str | None, typer.Option(help="Pin an instance type")] = None,
    cpu: Annotated[bool, typer.Option(
        "--cpu/--no-cpu", help="With --gpu auto, let CPU-only instances compete (small models)")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Size MODEL and show where it runs cheapest (AWS vs GCP, hourly and monthly)."""
    import json

    from flowllama.catalog.optimizer import parse_request
    from flowllama.domain.pricing import EstimateQuery
    from flowllama.estimate_report import render_estimate
    from flowllama.services.catalog import CatalogService, result_json

    settings = load_settings(data_dir=data_dir)
    service = CatalogService(settings.data_dir, settings.effective_models_dir)
    query = EstimateQuery(model=model, context_size=context, parallel=parallel,
                          spot_tolerance=spot, gpu=gpu, clouds=clouds, regions=regions,
                          instance_type=instance_type, allow_cpu=cpu)
    try:
        result = result_json(service.estimate(parse_request(query.as_request_data())))
    except ClientError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        render_estimate(console, result)


@pricing_app.command("refresh")
def pricing_refresh(data_dir: DataDirOpt = None,
                    force: Annotated[bool, typer.Option(help="Ignore the 15-minute cache")] = False
                    ) -> None:
    """Fetch live AWS and GCP prices where credentials exist; others keep the snapshot."""
    from flowllama.catalog.refresh import refresh_prices

    settings = load_settings(data_dir=data_dir)
    with console.status("Fetching prices from AWS and GCP..."):
        catalog = refresh_prices(data_dir=settings.data_dir, force=force)
    for cloud, status in sorted(catalog.clouds.items()):
        console.print(f"{cloud}: [bold]{status.source}[/] as of {status.as_of} "
                      f"{escape(status.detail)}", soft_wrap=True)
    stale = sorted(cloud for cloud, status in catalog.clouds.items()
                   if status.source == "snapshot" or "not refreshed" in status.detail)
    if stale:
        err.print(f"[yellow]Warning:[/] no live prices for {', '.join(stale)}; estimates keep "
                  "using the stored prices. Live prices need the cloud's SDK "
                  + escape("(pip install 'flowllama[aws]' / 'flowllama[gcp]')")
                  + " and credentials (see docs/pricing.md).", soft_wrap=True)


@dev_app.command("make-test-model")
def make_test_model(
    path: Annotated[Path, typer.Argument(help="Where to write the .gguf file")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes)")] = 0,
) -> None:
    """Write the tiny random-weight llama GGUF the tests serve with llama.cpp."""
    from flowllama.devtools.tiny_model import write_tiny_model

    written = write_tiny_model(path.expanduser(), seed=seed)
    console.print(f"Wrote {written} ({written.stat().st_size:,} bytes)")


@dev_app.command("terraform-mirror")
def terraform_mirror(
    directory: Annotated[Path | None, typer.Argument(
        help="Tools cache directory (default: $FLOWLLAMA_TOOLS_CACHE or ~/.cache/flowllama-tools)"
    )] = None,
) -> None:
    """Build the offline Terraform provider mirror (aws 3.39.0, null 2.1.2); print its env."""
    from flowllama.devtools.terraform_mirror import ensure_mirror
    from flowllama.devtools.tools_cache import ToolUnavailable

    try:
        mirror = ensure_mirror(directory.expanduser() if directory else None)
    except ToolUnavailable as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    typer.echo(mirror.env_line())


@web_app.command("export")
def web_export(
    directory: Annotated[Path, typer.Argument(help="Where to write the site")],
    api_url: Annotated[str, typer.Option("--api-url", help="Base URL of the REST API")],
    gateway_url: Annotated[str | None, typer.Option(
        "--gateway-url", help="Base URL of the token API (default: the API's)")] = None,
) -> None:
    """Write the web UI to DIRECTORY for a static host, talking to the API at --api-url."""
    from flowllama.web.export import export_site

    try:
        files = export_site(directory.expanduser(), api_url, gateway_url)
    except ClientError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from exc
    console.print(f"Wrote {len(files)} files to {directory}; allow its origin on the API with "
                  "FLOWLLAMA_WEB_ORIGINS (see docs/web.md).")


@app.command()
def version() -> None:
    """Print the version."""
    from flowllama import __version__

    console.print(__version__)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]Configuration error:[/] {exc}")
        sys.exit(2)
