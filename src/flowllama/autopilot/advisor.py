"""The cheaper-placement advisor task (``docs/autopilot.md``): after each price refresh, and
at least every ``FLOWLLAMA_AUTOPILOT__ADVISOR_INTERVAL_S`` otherwise, re-run the optimizer for
every running cloud deployment and record a recommendation where a feasible offer saves
enough; with ``auto_move`` the move starts at once.

The catalog knows nothing of the advisor: a refresh (``flowllama pricing refresh``, by any
process) changes the prices' provenance (``as_of`` per cloud), which the next round of this
task notices. Each deployment is advised in its own transaction holding its row, so a failure
on one leaves the others advised and two monitor processes never record two recommendations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from flowllama.autopilot.controller import Task
from flowllama.catalog.prices import PriceCatalog
from flowllama.db.autopilot_tables import Recommendation
from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.errors import QuotaExceeded
from flowllama.logging import get_logger
from flowllama.platform import Platform
from flowllama.queue.base import JobQueue
from flowllama.services import recommendations
from flowllama.services.deployment_estimates import DeploymentEstimator, configured_clouds
from flowllama.services.deployments import commit_and_nudge
from flowllama.services.recommendations import Estimator, Thresholds
from flowllama.settings import QuotaSettings

log = get_logger(__name__)


def price_version(catalog: PriceCatalog) -> tuple[Any, ...]:
    """What changes when prices are refreshed: the provenance of the whole and of each cloud."""
    return (catalog.as_of, catalog.source,
            tuple(sorted((cloud, status.as_of) for cloud, status in catalog.clouds.items())))


class PlacementAdvisor:
    """One round (:meth:`run`) advises every running cloud deployment when prices changed
    since the last advised round or ``interval_s`` has passed; otherwise it does nothing."""

    def __init__(self, db: Database, queue: JobQueue, estimator: Estimator, *,
                 prices: Callable[[], PriceCatalog], thresholds: Thresholds,
                 interval_s: float, quota: QuotaSettings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.queue = queue
        self.estimator = estimator
        self.prices = prices
        self.thresholds = thresholds
        self.interval_s = interval_s
        self.quota = quota
        self.clock = clock
        self._advised: tuple[Any, ...] | None = None
        self._advised_at: float | None = None

    def run(self) -> int:
        """A round if due; the recommendations it recorded (auto-moves included)."""
        version = price_version(self.prices())
        now = self.clock()
        due = (version != self._advised or self._advised_at is None
               or now - self._advised_at >= self.interval_s)
        if not due:
            return 0
        recorded = self.advise_all()
        self._advised, self._advised_at = version, now
        return recorded

    def advise_all(self) -> int:
        """Advise every advisable deployment now; returns the recommendations recorded."""
        with self.db.session() as session:
            recommendations.withdraw_stale(session)
            ids = recommendations.advisable_ids(session)
        recorded = 0
        for deployment_id in ids:
            try:
                recorded += self.advise_one(deployment_id)
            except Exception as exc:  # one deployment's failure must not stop the others
                log.warning("advisor.failed", deployment_id=deployment_id, error=str(exc),
                            exc_info=exc)
        return recorded

    def advise_one(self, deployment_id: str) -> int:
        """Advise one deployment (1 when a recommendation was recorded); with ``auto_move``
        accept it in the same transaction and nudge the agent after the commit."""
        with self.db.session() as session:
            deployment = recommendations.lock_advisable(session, deployment_id)
            if deployment is None:  # stopped or changed since the list was read
                return 0
            row = recommendations.advise(session, deployment, self.estimator, self.thresholds)
            if row is None:
                return 0
            log.info("advisor.recommended", deployment_id=deployment_id,
                     monthly_saving_usd=row.monthly_saving_usd, auto_move=deployment.auto_move)
            if deployment.auto_move:
                self._move(session, deployment, row)
            return 1

    def _move(self, session: Session, deployment: Deployment, row: Recommendation) -> None:
        """Accept for an ``auto_move`` deployment and nudge the agent after the commit; a
        move past the owner's GPU servers stays an open recommendation for the owner."""
        try:
            recommendations.accept(session, deployment, row, self.quota)
        except QuotaExceeded as exc:
            log.info("advisor.auto_move_over_quota", deployment_id=deployment.id,
                     error=exc.message)
            return
        commit_and_nudge(session, self.queue, deployment)


def advisor_task(platform: Platform) -> Task:
    """The advisor as an autopilot task, with the API's estimator and the settings' thresholds."""
    settings = platform.settings
    estimator = DeploymentEstimator(platform.catalog, None, configured_clouds(settings.clouds))
    advisor = PlacementAdvisor(
        platform.db, platform.queue, estimator, prices=platform.catalog.prices,
        thresholds=Thresholds(settings.autopilot.advisor_min_saving_usd_month,
                              settings.autopilot.advisor_min_saving_percent),
        interval_s=settings.autopilot.advisor_interval_s, quota=settings.quotas)
    return Task("advisor", advisor.run)
