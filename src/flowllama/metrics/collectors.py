"""Values read at scrape time: deployments by status, the job queue's depth and age, and what
the live servers bill per hour.

The collector asks its sources when Prometheus scrapes, so every replica reports the same
truth without keeping counters in step. A source that fails (database down) is reported as
``flowllama_metrics_source_up{source} 0`` and skipped, instead of failing the whole scrape.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance
from flowllama.domain.lifecycle import Status
from flowllama.errors import FlowLlamaError
from flowllama.logging import get_logger
from flowllama.queue.base import JobQueue

log = get_logger(__name__)

QUEUE_STATES = ("ready", "delayed", "in_flight", "dead")
_SOURCE_ERRORS = (SQLAlchemyError, FlowLlamaError, OSError)


class PlatformCollector(Collector):
    """``flowllama_deployments{status}`` (live deployments, zero included),
    ``flowllama_queue_jobs{state}`` (ready, delayed, in_flight, dead),
    ``flowllama_queue_oldest_ready_age_seconds`` and ``flowllama_billed_usd_per_hour{provider}``
    (the summed hourly price of servers not yet terminated)."""

    def __init__(self, db: Database, queue: JobQueue) -> None:
        self.db = db
        self.queue = queue

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("flowllama_metrics_source_up",
                               "Whether a scrape-time source answered (1) or failed (0).",
                               labels=["source"])
        for source, read in (("deployments", self._deployments), ("queue", self._queue),
                             ("spend", self._spend)):
            try:
                families = read()
            except _SOURCE_ERRORS as exc:
                log.warning("metrics.source_failed", source=source, error=type(exc).__name__)
                up.add_metric([source], 0.0)
                continue
            up.add_metric([source], 1.0)
            yield from families
        yield up

    def _deployments(self) -> list[GaugeMetricFamily]:
        with self.db.session() as session:
            counts = {status: count for status, count in session.execute(
                select(Deployment.status, func.count()).where(Deployment.deleted_at.is_(None))
                .group_by(Deployment.status)).all()}
        family = GaugeMetricFamily("flowllama_deployments", "Live deployments by status.",
                                   labels=["status"])
        for status in Status:
            if status is not Status.DELETED:
                family.add_metric([status.value], float(counts.get(status.value, 0)))
        return [family]

    def _queue(self) -> list[GaugeMetricFamily]:
        depth = self.queue.depth()
        family = GaugeMetricFamily("flowllama_queue_jobs", "Jobs in the agent's queue by state.",
                                   labels=["state"])
        for state in QUEUE_STATES:
            family.add_metric([state], float(getattr(depth, state)))
        age = GaugeMetricFamily("flowllama_queue_oldest_ready_age_seconds",
                                "How long the oldest ready job has waited (0 when none).",
                                value=depth.oldest_ready_age_s)
        return [family, age]

    def _spend(self) -> list[GaugeMetricFamily]:
        """What the live servers bill per hour, in all and by cloud (the budget alert's input)."""
        with self.db.session() as session:
            rows = session.execute(
                select(Instance.provider, func.coalesce(func.sum(Instance.price_per_hour), 0.0))
                .where(Instance.terminated_at.is_(None)).group_by(Instance.provider)).all()
        family = GaugeMetricFamily("flowllama_billed_usd_per_hour",
                                   "Hourly price of the servers that are not terminated, by "
                                   "provider.", labels=["provider"])
        for provider, dollars in rows:
            family.add_metric([str(provider)], float(dollars or 0.0))
        return [family]
