"""Run roles as one process: migrations, the ASGI app under uvicorn, clean shutdown."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI
from rich.console import Console

from flowllama.api.app import create_app
from flowllama.api.connection_deadlines import DeadlineProtocol, protocol_class
from flowllama.db import migrate
from flowllama.logging import configure_logging, get_logger
from flowllama.metrics.exposition import serve_metrics
from flowllama.platform import Platform, build_platform
from flowllama.private_files import make_process_private
from flowllama.settings import Settings
from flowllama.webhooks.secrets import SecretBox, seal_plaintext

log = get_logger(__name__)

ALL_ROLES = ("api", "gateway", "agent", "monitor", "dashboard")


def _prepare(settings: Settings, roles: Sequence[str]) -> Platform:
    configure_logging(role="+".join(roles), level=settings.log_level, fmt=settings.log_format)
    make_process_private()  # before the first file: database, logs, outbox, runtimes' files
    platform = build_platform(settings)
    migrate.upgrade(settings.effective_database_url)
    sealed = seal_plaintext(platform.db, SecretBox.from_settings(settings))
    if sealed:
        log.info("webhooks.secrets_encrypted", webhooks=sealed)
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


def serve_gateway_processes(settings: Settings, processes: int) -> None:
    """Run ``processes`` gateway processes on one listening socket until SIGINT/SIGTERM.

    uvicorn's supervisor binds the socket, starts each process (spawned, so none inherits a
    database connection), restarts one that dies and stops them all on a signal. Migrations
    run once, here, first. Each process keeps its own caches, balancer, circuit breaker and
    usage meter; ``rpm``/``tpm`` counts are shared through the database (docs/gateway.md).
    """
    _prepare(settings, ["gateway"]).close()
    # The processes read their settings from the environment: pass on what the command line
    # set (host and port belong to the supervisor's socket).
    os.environ["FLOWLLAMA_DATA_DIR"] = str(settings.data_dir)
    url = f"http://{settings.host}:{settings.port}"
    _announce(f"[bold green]FlowLlama[/] gateway, {processes} processes, on {url}; "
              f"database: {_db_label(settings)}",
              roles=["gateway"], url=url, processes=processes, database=_db_label(settings))
    # The same options as one process; the protocol is named by import path, since uvicorn
    # pickles its config for each spawned process and a class made at run time cannot be.
    options = uvicorn_options(settings, http=f"{__name__}:GatewayProcessProtocol")
    uvicorn.run(f"{__name__}:gateway_process_app", factory=True, workers=processes, **options)


class GatewayProcessProtocol(DeadlineProtocol):
    """The HTTP protocol of each process of :func:`serve_gateway_processes`: its head
    deadline and size cap are set from the settings by :func:`gateway_process_app`, which
    uvicorn calls in that process before it accepts a connection."""


def gateway_process_app() -> FastAPI:
    """The app of one process of :func:`serve_gateway_processes` (settings from the
    environment; migrations already applied)."""
    settings = Settings()
    GatewayProcessProtocol.head_timeout_s = settings.http.header_timeout_s
    GatewayProcessProtocol.max_head_bytes = settings.http.max_header_bytes
    configure_logging(role="gateway", level=settings.log_level, fmt=settings.log_format)
    app = create_app(build_platform(settings), ["gateway"])
    gc.collect()  # as in _run_http: what lives as long as the process leaves the collector
    gc.freeze()
    return app


class _Background(Protocol):
    def start(self) -> None: ...
    def stop(self) -> object: ...


def _background_roles(platform: Platform, roles: Sequence[str], workers: int | None = None
                      ) -> list[_Background]:
    """The agent and the monitor for ``roles``; the local provisioner is wired to the API."""
    from flowllama.agent.composition import attach_local, build_agent
    from flowllama.autopilot.composition import build_autopilot
    from flowllama.loadtest.executor import LoadtestExecutor
    from flowllama.monitor.service import build_monitor

    local = attach_local(platform)
    background: list[_Background] = []
    if "agent" in roles:
        background.append(build_agent(platform, local, workers=workers))
        background.append(LoadtestExecutor(platform))
    if "monitor" in roles:
        background.append(build_monitor(platform))
        background.append(build_autopilot(platform))
    return background


def serve_background(settings: Settings, role: str, *, workers: int | None = None) -> None:
    """Run only the ``agent`` or ``monitor`` role until SIGINT/SIGTERM."""
    platform = _prepare(settings, [role])
    background = _background_roles(platform, [role], workers)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stopping.set())
    for worker in background:
        worker.start()
    metrics = None
    if settings.metrics_port is not None:  # no HTTP app here: a listener just for /metrics
        metrics = serve_metrics(platform.db, platform.queue, settings.host, settings.metrics_port,
                                platform.loops)
    count = workers or platform.settings.agent.workers
    detail = f" with {count} workers" if role == "agent" else ""
    _announce(f"[bold green]FlowLlama[/] {role}{detail}; database: {_db_label(settings)}",
              roles=[role], workers=count if role == "agent" else None,
              database=_db_label(settings))
    stopping.wait()
    for worker in reversed(background):
        worker.stop()
    if metrics is not None:
        metrics.stop()
    platform.close()


def _run_http(platform: Platform, roles: Sequence[str], *, announce: bool) -> None:
    settings = platform.settings
    app = create_app(platform, roles)
    config = uvicorn.Config(app, **uvicorn_options(settings))
    server = uvicorn.Server(config)
    if announce:
        url = f"http://{settings.host}:{settings.port}"
        _announce(f"[bold green]FlowLlama[/] {' + '.join(roles)} on [link={url}]{url}[/link]\n"
                  f"  data dir: {settings.data_dir}  database: {_db_label(settings)}",
                  roles=list(roles), url=url, data_dir=str(settings.data_dir),
                  database=_db_label(settings))
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


def uvicorn_options(settings: Settings, http: str | None = None) -> dict[str, Any]:
    """uvicorn's settings for the HTTP roles, one process or several: deadlines on request
    heads (our protocol; ``http`` names it by import path instead, for spawned processes), an
    idle timeout between requests, and no forwarded headers at uvicorn's level (it trusts
    127.0.0.1 by default; ``api/proxies.py`` trusts only the configured proxies)."""
    limits = settings.http
    return {
        "host": settings.host, "port": settings.port, "log_config": None,
        "log_level": settings.log_level, "access_log": False, "timeout_graceful_shutdown": 10,
        "http": http or protocol_class(limits.header_timeout_s, limits.max_header_bytes),
        "timeout_keep_alive": limits.keep_alive_timeout_s,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "proxy_headers": False, "server_header": False,
    }


def _after_graceful_shutdown(_signum: int, _frame: FrameType | None) -> None:
    return None


def _announce(banner: str, **fields: Any) -> None:
    """Say a role is up: always as a ``server.started`` log line, and as a Rich banner only for
    a person at a terminal (in a container every stdout/stderr line is a log record, and a
    banner there would reach Elasticsearch as unparsed text)."""
    log.info("server.started", **{k: v for k, v in fields.items() if v is not None})
    if sys.stderr.isatty():
        Console(stderr=True).print(banner)


def _db_label(settings: Settings) -> str:
    url = settings.effective_database_url
    return url if url.startswith("sqlite") else url.split("@")[-1]
