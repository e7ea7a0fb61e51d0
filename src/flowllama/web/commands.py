"""``flowllama web publish``: the command the frontend pipeline calls (logic in web/publish.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from flowllama.errors import ClientError

console = Console()
err = Console(stderr=True)


def publish(
    directory: Annotated[Path, typer.Argument(help="An exported site (flowllama web export)")],
    bucket: Annotated[str, typer.Option("--bucket", help="S3 bucket to publish to")],
    prefix: Annotated[str, typer.Option(
        "--prefix", help="Key prefix, e.g. pr-12 for a preview (default: bucket root)")] = "",
    distribution: Annotated[str | None, typer.Option(
        "--distribution", help="CloudFront distribution id to invalidate")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Upload DIRECTORY to S3 with cache headers, delete stale files, invalidate CloudFront."""
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError as AwsError

    from flowllama.web.publish import publish_site

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("Uploading", total=None)

        def step(done: int, total: int, key: str) -> None:
            bar.update(task, completed=done, total=total, description=f"Uploading {key}")

        try:
            result = publish_site(directory.expanduser(), bucket, prefix, distribution,
                                  progress=step)
        except ClientError as exc:
            err.print(f"[red]{exc.message}[/]")
            raise typer.Exit(2) from exc
        except (BotoCoreError, AwsError) as exc:
            err.print(f"[red]AWS refused the publish:[/] {exc}")
            raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console.print(f"Published to s3://{bucket}/{result.prefix}: {len(result.uploaded)} uploaded, "
                  f"{len(result.unchanged)} unchanged, {len(result.deleted)} stale removed.")
    if result.invalidation_id:
        console.print(f"CloudFront invalidation {result.invalidation_id} requested.")


def register(web_app: typer.Typer) -> None:
    """Add ``publish`` to the ``flowllama web`` group."""
    web_app.command("publish")(publish)
