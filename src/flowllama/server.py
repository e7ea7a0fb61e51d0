"""Run roles as one process: migrations, the ASGI app under uvicorn, clean shutdown."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from types import FrameType

import uvicorn
from rich.console import Console

from flowllama.api.app import create_app
from flowllama.db import migrate
from flowllama.logging import configure_logging
from flowllama.platform import build_platform
from flowllama.services.catalog import sync_models_table
from flowllama.settings import Settings

ALL_ROLES = ("api", "gateway", "agent", "monitor", "dashboard")


def serve(settings: Settings, roles: Sequence[str], *, announce: bool = True) -> None:
    """Apply migrations, then serve ``roles`` on ``settings.host:port`` until SIGINT/SIGTERM."""
    configure_logging(role="+".join(roles), level=settings.log_level, fmt=settings.log_format)
    platform = build_platform(settings)
    migrate.upgrade(settings.effective_database_url)
    with platform.db.session() as session:
        sync_models_table(session, platform.catalog)
    app = create_app(platform, roles)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None,
        log_level=settings.log_level, access_log=False, timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    if announce:
        console = Console(stderr=True)
        url = f"http://{settings.host}:{settings.port}"
        console.print(f"[bold green]FlowLlama[/] {' + '.join(roles)} on [link={url}]{url}[/link]")
        console.print(f"  data dir: {settings.data_dir}  database: {_db_label(settings)}")
    # uvicorn handles SIGINT/SIGTERM by draining connections, then re-raises the signal under
    # whatever handler was there before it. By then shutdown is complete, so that handler does
    # nothing and the process exits 0, as a service manager expects of a clean stop.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _after_graceful_shutdown)
    server.run()


def _after_graceful_shutdown(_signum: int, _frame: FrameType | None) -> None:
    return None


def _db_label(settings: Settings) -> str:
    url = settings.effective_database_url
    return url if url.startswith("sqlite") else url.split("@")[-1]
