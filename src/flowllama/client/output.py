"""What every CLI command shares: the ``--url`` and ``--json`` options, the session with the
API (errors become a message and a non-zero exit), JSON output and Rich tables."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flowllama.client.api import URL_ENV, ApiClient, ApiError, resolve_url
from flowllama.client.credentials import CredentialStore

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help=f"FlowLlama base URL (else ${URL_ENV}, else the one you logged in to)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]

# soft_wrap: messages are not broken at 80 columns when piped (ids and URLs stay whole).
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    """``data`` as JSON on stdout (dates as ISO strings)."""
    typer.echo(json.dumps(data, indent=2, default=str))


def emit_json_line(data: Any) -> None:
    """One compact JSON object per line (for streams: ``logs -f --json``, ``chat --json``)."""
    typer.echo(json.dumps(data, default=str))


def fail(exc: ApiError, as_json: bool) -> NoReturn:
    """Print the API's error (JSON on stdout with ``--json``, else a line on stderr); exit 1."""
    if as_json:
        emit_json(exc.body())
    else:
        where = f" (field: {exc.field})" if exc.field else ""
        err.print(f"[red]Error:[/] {escape(exc.message)}{escape(where)} [dim]\\[{exc.code}][/]")
    raise typer.Exit(1)


@contextmanager
def api_session(url: str | None, as_json: bool) -> Iterator[ApiClient]:
    """An :class:`ApiClient` for the chosen server; any :class:`ApiError` raised inside ends the
    command with the API's message and exit status 1 (130 on Ctrl-C)."""
    try:
        store = CredentialStore()
        client = ApiClient(resolve_url(url, store), store)
        try:
            yield client
        finally:
            client.close()
    except ApiError as exc:
        fail(exc, as_json)
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted[/]")
        raise typer.Exit(130) from None


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
          ) -> None:
    """A Rich table of ``rows`` (None shows as "-"); a narrow terminal folds cells rather
    than cutting them, so ids can be copied whole. All-blank ``columns``: no header row."""
    shown = Table(title=title, header_style="bold", box=None, pad_edge=False,
                  show_header=any(columns))
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        shown.add_row(*("-" if cell is None else escape(str(cell)) for cell in row))
    console.print(shown)


def when(value: str | None) -> str | None:
    """An API timestamp as ``YYYY-MM-DD HH:MM:SS`` (UTC, as the API sends it)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def money(value: float | None, digits: int = 4) -> str | None:
    return None if value is None else f"${value:,.{digits}f}"
