"""What ``/metrics`` serves: the process-wide instruments plus one app's scrape-time collector.

Each app gets its own small registry (so building many apps in one process registers nothing
twice); it forwards the process-wide :data:`~flowllama.metrics.instruments.REGISTRY`, whose
instruments every role in the process records to. Roles without an HTTP app (``serve agent``,
``serve monitor``) get :func:`serve_metrics`: a small listener that also answers ``/health``
and ``/ready``, so their probes see a dead background loop.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.core import Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from flowllama import __version__
from flowllama.db.session import Database
from flowllama.loops.health import LoopHealth
from flowllama.loops.readiness import RETRY_AFTER_S, readiness
from flowllama.metrics.collectors import PlatformCollector
from flowllama.metrics.instruments import REGISTRY
from flowllama.queue.base import JobQueue

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Forward(Collector):
    """Yields another registry's metrics, so one registry can expose both."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def build_registry(db: Database, queue: JobQueue) -> CollectorRegistry:
    """A registry for one app: the shared instruments and this platform's live values."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(REGISTRY))
    registry.register(PlatformCollector(db, queue))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MetricsServer(ThreadingWSGIServer):
    """The listener :func:`serve_metrics` returns."""

    def stop(self) -> None:
        """Stop serving and close the listening socket: ``shutdown()`` alone only ends the
        serving thread and leaves the port bound until the process exits."""
        self.shutdown()
        self.server_close()


def serve_metrics(db: Database, queue: JobQueue, host: str, port: int,
                  loops: LoopHealth | None = None) -> MetricsServer:
    """A listener in a daemon thread for roles without an HTTP app (``flowllama serve agent``
    and ``serve monitor``): ``/metrics``, ``/health`` (liveness) and ``/ready`` (the database
    and ``loops``, answered as on the HTTP roles). ``stop()`` the result to stop it and free
    its port."""
    app = listener_app(build_registry(db, queue), db, loops or LoopHealth())
    family, address = _best_family(host, port)
    server_class = type("MetricsServer", (MetricsServer,), {"address_family": family})
    server: MetricsServer = make_server(address, port, app, server_class,
                                        handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-listener", daemon=True).start()
    return server


def listener_app(registry: CollectorRegistry, db: Database, loops: LoopHealth) -> WsgiApp:
    """The WSGI app of :func:`serve_metrics`: ``/health`` and ``/ready`` as JSON, every other
    path prometheus_client's exposition of ``registry``."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        body: dict[str, object]
        if path == "/health":
            status, body = 200, {"status": "ok", "version": __version__}
        elif path == "/ready":
            status, body = readiness(db, loops, detail=True)  # an operators' port
        else:
            exposition: Iterable[bytes] = metrics(environ, start_response)
            return exposition
        payload = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        if status != 200:
            headers.append(("Retry-After", str(RETRY_AFTER_S)))
        start_response("200 OK" if status == 200 else "503 Service Unavailable", headers)
        return [payload]

    return app


class _QuietHandler(WSGIRequestHandler):
    """No access line on stderr for every scrape and probe."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _best_family(host: str, port: int) -> tuple[socket.AddressFamily, str]:
    """The address family for ``host`` (so an IPv6 address binds), as prometheus_client does."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])
