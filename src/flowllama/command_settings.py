"""How every command line tool of this package builds its settings: the environment (and
``.env``) plus the options a command takes, and a clear message with exit code 2 when the
configuration is invalid (never a traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from flowllama.settings import Settings

_err = Console(stderr=True)


def load_settings(host: str | None = None, port: int | None = None,
                  data_dir: Path | None = None) -> Settings:
    """``Settings`` with the given options over the environment; exit 2 when invalid."""
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir.expanduser().resolve()
    try:
        return Settings(**overrides)
    except ValueError as exc:
        _err.print(f"[red]Invalid configuration:[/] {exc}")
        raise typer.Exit(2) from exc
