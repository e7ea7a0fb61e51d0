"""``flowllama cloud init|destroy``: the operator's commands for a region's foundation.

The foundation (network, NAT, flow logs, identities, model bucket) is applied once per cloud,
region and environment, on the same state backend as the deployments, through the Terraform
provisioner's own engine and sessions. Credentials come from the cloud SDK's standard chain
(environment, profile, instance role, workload identity); nothing here reads or prints them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from flowllama.errors import ConfigError, ProviderError
from flowllama.settings import CloudSettings, Settings

if TYPE_CHECKING:
    from flowllama.providers.terraform.foundation import Foundations

cloud_app = typer.Typer(no_args_is_help=True, help="Cloud foundations (network, identities, "
                        "model bucket) for AWS and GCP deployments")
console = Console()
err = Console(stderr=True)

CloudArg = Annotated[str, typer.Argument(help="aws | gcp")]
RegionOpt = Annotated[str, typer.Option("--region", help="Cloud region, e.g. us-east-1")]
EnvironmentOpt = Annotated[str | None, typer.Option(
    "--environment", help="Foundation set (default: FLOWLLAMA_CLOUDS__<CLOUD>__ENVIRONMENT)")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env FLOWLLAMA_DATA_DIR)")
]
CLOUDS = ("aws", "gcp")
STEPS = {"init": "initialising", "plan": "planning", "apply": "applying",
         "destroy": "destroying", "output": "reading outputs", "state": "checking state"}


@cloud_app.command("init")
def cloud_init(cloud: CloudArg, region: RegionOpt, environment: EnvironmentOpt = None,
               data_dir: DataDirOpt = None) -> None:
    """Create or update the foundation of CLOUD in REGION, then print what it created."""
    outputs = _run(cloud, region, environment, data_dir, destroy=False)
    table = Table(title=f"{cloud} foundation in {region}")
    table.add_column("output")
    table.add_column("value")
    for name, value in sorted(outputs.items()):
        table.add_row(name, value if isinstance(value, str) else json.dumps(value))
    console.print(table)
    console.print(f"Enable deployments with FLOWLLAMA_CLOUDS__{cloud.upper()}__ENABLED=true.")


@cloud_app.command("destroy")
def cloud_destroy(cloud: CloudArg, region: RegionOpt, environment: EnvironmentOpt = None,
                  data_dir: DataDirOpt = None,
                  yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False) -> None:
    """Destroy the foundation of CLOUD in REGION (delete its deployments first)."""
    if not yes:
        typer.confirm(f"Destroy the {cloud} foundation in {region}?", abort=True)
    _run(cloud, region, environment, data_dir, destroy=True)
    console.print(f"[green]The {cloud} foundation in {region} is destroyed.[/]")


def _run(cloud: str, region: str, environment: str | None, data_dir: Path | None, *,
         destroy: bool) -> dict[str, Any]:
    if cloud not in CLOUDS:
        err.print(f"[red]Unknown cloud {cloud!r}[/]; choose one of {', '.join(CLOUDS)}")
        raise typer.Exit(2)
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir.expanduser().resolve()
    started = time.monotonic()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task(f"{cloud} {region}: starting", total=None)

        def on_command(label: str, workspace: str) -> None:
            step = STEPS.get(label, label)
            progress.update(task, description=f"{cloud} {region}: terraform {label} ({step})")
            err.print(f"[dim]{time.monotonic() - started:6.1f}s[/] terraform {label} "
                      f"in {workspace}")

        try:
            if environment is not None:
                CloudSettings(environment=environment)  # the same rule as the setting
            foundations = _foundations(Settings(**overrides), environment, on_command)
            if destroy:
                foundations.destroy(cloud, region)
                return {}
            return foundations.apply(cloud, region)
        except (ConfigError, ProviderError, ValueError) as exc:
            progress.stop()
            err.print(f"[red]{'Destroy' if destroy else 'Init'} failed:[/] {exc}")
            raise typer.Exit(1) from exc


def _foundations(settings: Settings, environment: str | None,
                 on_command: Callable[[str, str], None]) -> Foundations:
    from flowllama.agent.composition import foundations
    from flowllama.providers.terraform import default_engine

    return foundations(settings, default_engine(), environment=environment,
                       on_command=on_command)
