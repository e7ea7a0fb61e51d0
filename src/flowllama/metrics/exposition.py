"""What ``/metrics`` serves: the process-wide instruments plus one app's scrape-time collector.

Each app gets its own small registry (so building many apps in one process registers nothing
twice); it forwards the process-wide :data:`~flowllama.metrics.instruments.REGISTRY`, whose
instruments every role in the process records to.
"""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from flowllama.db.session import Database
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


def serve_metrics(db: Database, queue: JobQueue, host: str, port: int) -> WSGIServer:
    """A ``/metrics``-only listener in a daemon thread, for roles without an HTTP app
    (``flowllama serve agent`` and ``serve monitor``); ``shutdown()`` the result to stop it."""
    server, _thread = start_http_server(port, addr=host, registry=build_registry(db, queue))
    return server
