"""The budgets task: every round, each budget's month so far against its thresholds.

For each threshold (50, 80, 100 %) a budget has reached this month and not yet alerted: a
``budget_alerts`` row, a ``budget.threshold`` webhook and, at 100 % with action ``stop``, the
stop — all in one transaction. The alert's unique key (budget, month, threshold) makes that
transaction commit once: a second controller racing on the same budget hits the constraint
and does nothing. So each threshold alerts once a month; raising the budget later in the month
keeps its alerts (no re-fire); a new month starts over.

At 100 % with ``stop``: a user budget sets desired ``stopped`` on that user's deployments that
are meant to run (or sleep) — each gets an event and the agent is nudged after the commit; a
deployment the owner starts again later this month is left alone. A key budget is enforced
by the gateway (``gateway.keys`` loads the key's month spend with the key): the key is refused
until the next month or until the budget is raised above its spend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.autopilot_tables import Budget, BudgetAlert
from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired
from flowllama.domain.webhooks import WebhookEvent
from flowllama.errors import FlowLlamaError
from flowllama.logging import get_logger
from flowllama.queue.base import JobQueue
from flowllama.queue.nudges import nudge
from flowllama.services import budgets
from flowllama.services.deployment_status import record_event
from flowllama.services.spend import month_of
from flowllama.webhooks.events import notify

log = get_logger(__name__)

_LIVE = (Desired.RUNNING, Desired.SLEEPING)


class BudgetEnforcer:
    """One round over every budget (:meth:`run`); safe to run in several processes at once."""

    def __init__(self, db: Database, queue: JobQueue,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.queue = queue
        self.clock = clock

    def run(self) -> int:
        """Check every budget; returns how many raised an alert this round."""
        with self.db.session() as session:
            ids = list(session.scalars(select(Budget.id).order_by(Budget.id)))
        return sum(1 for budget_id in ids if self.check(budget_id))

    def check(self, budget_id: str) -> bool:
        """Alert each newly reached threshold of one budget; True when any was alerted."""
        now = self.clock()
        month = month_of(now).label
        with self.db.session() as session:
            budget = session.get(Budget, budget_id)
            if budget is None:  # removed since the round began
                return False
            spent = budgets.budget_spend(session, budget, now)
            done = set(session.scalars(select(BudgetAlert.threshold).where(
                BudgetAlert.budget_id == budget.id, BudgetAlert.month == month)))
            stopped: list[Deployment] = []
            alerted = False
            for threshold in budgets.crossed(spent, budget.monthly_usd):
                if threshold in done:
                    continue
                result = _alert(session, budget, month, threshold, spent)
                if result is None:  # another controller alerted it first
                    continue
                alerted = True
                stopped += result
        for deployment in stopped:  # after the commit, so the agent reads the new desire
            self._nudge(deployment)
        return alerted

    def _nudge(self, deployment: Deployment) -> None:
        try:
            nudge(self.queue, deployment)
        except FlowLlamaError as exc:  # the stop is saved; the agent's sweep will find it
            log.warning("budgets.nudge_failed", deployment_id=deployment.id, error=str(exc))


def _alert(session: Session, budget: Budget, month: str, threshold: int, spent: float
           ) -> list[Deployment] | None:
    """Record one threshold and do what it asks; None when it was already recorded."""
    acting = threshold == 100 and budget.action == "stop"
    taken = "warned" if not acting else "blocked" if budget.api_key_id else "stopped"
    try:
        with session.begin_nested():
            session.add(BudgetAlert(budget_id=budget.id, month=month, threshold=threshold,
                                    spend_usd=round(spent, 6), action_taken=taken))
    except IntegrityError:
        return None
    stopped = _stop_deployments(session, budget) if taken == "stopped" else []
    notify(session, budget.user_id, WebhookEvent.BUDGET_THRESHOLD, {
        "budget": {"id": budget.id, "scope": "key" if budget.api_key_id else "user",
                   "api_key_id": budget.api_key_id, "monthly_usd": budget.monthly_usd,
                   "action": budget.action},
        "threshold": threshold, "spend_usd": round(spent, 6), "month": month,
        "action_taken": taken, "stopped_deployments": [d.id for d in stopped]})
    log.info("budgets.threshold", budget_id=budget.id, threshold=threshold,
             spend_usd=round(spent, 2), action_taken=taken)
    return stopped


def _stop_deployments(session: Session, budget: Budget) -> list[Deployment]:
    """Desired ``stopped`` for the budget owner's deployments meant to run or sleep."""
    rows = list(session.scalars(select(Deployment).where(
        Deployment.user_id == budget.user_id, Deployment.desired_state.in_(_LIVE))
        .with_for_update()))
    for row in rows:
        row.desired_state = Desired.STOPPED
        row.updated_at = utcnow()
        record_event(session, row,
                     f"stopped: monthly budget of ${budget.monthly_usd:,.2f} reached")
    return rows
