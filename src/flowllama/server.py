"""Run roles as one process: migrations, the ASGI app under uvicorn, clean shutdown."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Protocol

import uvicorn
from rich.console import Console

from flowllama.api.app import create_app
from flowllama.db import migrate
from flowllama.logging import configure_logging
from flowllama.metrics.exposition import serve_metrics
from flowllama.platform import Platform, build_platform
from flowllama.settings import Settings

ALL_ROLES = ("api", "gateway", "agent", "monitor", "dashboard")


def _prepare(settings: Settings, roles: Sequence[str]) -> Platform:
    configure_logging(role="+".join(roles), level=settings.log_level, fmt=settings.log_format)
    platform = build_platform(settings)
    migrate.upgrade(settings.effective_database_url)
    return platform


def serve(settings: Settings, roles: Sequence[str], *, announce: bool = True) -> None:
    """Apply migrations, then serve ``roles`` on ``settings.host:port`` until SIGINT/SIGTERM.

    The ``agent`` and ``monitor`` roles run in threads of this process; they start before the
    HTTP server and stop after it.
    """
    platform = _prepare(settings, roles)
    background = _background_roles(platform, roles)
    for role in background:
        role.start()
    try:
        _run_http(platform, roles, announce=announce)
    finally:
        for role in reversed(background):
            role.stop()


class _Background(Protocol):
    def start(self) -> None: ...
    def stop(self) -> object: ...


def _background_roles(platform: Platform, roles: Sequence[str], workers: int | None = None
                      ) -> list[_Background]:
    """The agent and the monitor for ``roles``; the local provisioner is wired to the API."""
    from flowllama.agent.composition import attach_local, build_agent
    from flowllama.monitor.service import build_monitor

    local = attach_local(platform)
    background: list[_Background] = []
    if "agent" in roles:
        background.append(build_agent(platform, local, workers=workers))
    if "monitor" in roles:
        background.append(build_monitor(platform))
    return background


def serve_background(settings: Settings, role: str, *, workers: int | None = None) -> None:
    """Run only the ``agent`` or ``monitor`` role until SIGINT/SIGTERM."""
    platform = _prepare(settings, [role])
    [worker] = _background_roles(platform, [role], workers)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stopping.set())
    worker.start()
    metrics = None
    if settings.metrics_port is not None:  # no HTTP app here: a listener just for /metrics
        metrics = serve_metrics(platform.db, platform.queue, settings.host, settings.metrics_port)
    count = workers or platform.settings.agent.workers
    detail = f" with {count} workers" if role == "agent" else ""
    Console(stderr=True).print(
        f"[bold green]FlowLlama[/] {role}{detail}; database: {_db_label(settings)}")
    stopping.wait()
    worker.stop()
    if metrics is not None:
        metrics.shutdown()
    platform.close()


def _run_http(platform: Platform, roles: Sequence[str], *, announce: bool) -> None:
    settings = platform.settings
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
    # Everything imported and built so far lives as long as the process: move it out of the
    # collector's reach, so full collections under load scan only what requests allocate
    # (they were a visible share of the gateway's CPU, and its worst latencies).
    gc.collect()
    gc.freeze()
    server.run()


def _after_graceful_shutdown(_signum: int, _frame: FrameType | None) -> None:
    return None


def _db_label(settings: Settings) -> str:
    url = settings.effective_database_url
    return url if url.startswith("sqlite") else url.split("@")[-1]
