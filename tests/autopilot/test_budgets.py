"""The budgets task on SQLite and PostgreSQL: 50/80/100 % alert once each (one webhook each),
``stop`` stops exactly that user's live deployments once, ``warn`` only warns, raising a budget
re-fires nothing, a racing controller's duplicate alert does nothing, and a key budget blocks
that key alone at the gateway."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.autopilot import budgets as budget_task
from flowllama.autopilot.budgets import BudgetEnforcer
from flowllama.autopilot.composition import autopilot_tasks
from flowllama.db.autopilot_tables import Budget, BudgetAlert
from flowllama.db.tables import (
    Deployment,
    DeploymentEvent,
    Instance,
    Job,
    UsageDaily,
    User,
    Webhook,
    WebhookDelivery,
)
from flowllama.db.types import utcnow
from flowllama.domain.budgets import BudgetIn
from flowllama.domain.keys import ApiKeyCreate
from flowllama.errors import RateLimited
from flowllama.gateway.budget import MonthlyBudget
from flowllama.gateway.keys import database_loader
from flowllama.platform import Platform
from flowllama.security.tokens import hash_secret
from flowllama.services import api_keys, budgets

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Tenant:
    user: User
    deployments: dict[str, Deployment]


def _tenant(session: Session, email: str, price: float, desired: dict[str, str]) -> Tenant:
    """A user with a deployment per ``desired`` entry; the first has a live ``price`` $/h
    server since 4 h before NOW; a webhook subscribed to budget thresholds."""
    user = User(email=email, password_hash="x")
    session.add(user)
    session.flush()
    rows = {}
    for name, want in desired.items():
        rows[name] = Deployment(user_id=user.id, name=name, model="m", context_size=512,
                                cloud="local", desired_state=want,
                                status="running" if want == "running" else want)
        session.add(rows[name])
    session.flush()
    first = next(iter(rows.values()))
    session.add(Instance(deployment_id=first.id, provider="local", price_per_hour=price,
                         created_at=NOW - timedelta(hours=4)))
    session.add(Webhook(user_id=user.id, url="https://hooks.example.com/x",
                        events=["budget.threshold"], secret="s"))
    return Tenant(user, rows)


def _deliveries(session: Session, user: User) -> list[int]:
    rows = session.scalars(select(WebhookDelivery).join(
        Webhook, Webhook.id == WebhookDelivery.webhook_id).where(Webhook.user_id == user.id)
        .order_by(WebhookDelivery.created_at)).all()
    return sorted(row.payload["threshold"] for row in rows)


def _desired(session: Session, tenant: Tenant) -> dict[str, str]:
    return {name: session.get_one(Deployment, row.id).desired_state
            for name, row in tenant.deployments.items()}


def test_thresholds_once_stop_exactly_that_users_deployments(platform: Platform) -> None:
    db, clock = platform.db, Clock()
    with db.session() as session:
        ada = _tenant(session, "ada@example.com", 10.0,
                      {"bot": "running", "dozy": "sleeping", "off": "stopped"})
        bob = _tenant(session, "bob@example.com", 10.0, {"bob-bot": "running"})
        budgets.put(session, ada.user, None, BudgetIn(monthly_usd=100, action="stop"))
    enforcer = BudgetEnforcer(db, platform.queue, clock)

    assert enforcer.run() == 0  # $40 of $100
    clock.now = NOW + timedelta(hours=1)  # $50
    assert enforcer.run() == 1 and enforcer.run() == 0
    clock.now = NOW + timedelta(hours=4)  # $80
    assert enforcer.run() == 1
    with db.session() as session:
        assert _deliveries(session, ada.user) == [50, 80]
        assert _desired(session, ada) == {"bot": "running", "dozy": "sleeping", "off": "stopped"}

    clock.now = NOW + timedelta(hours=6)  # $100
    assert enforcer.run() == 1
    with db.session() as session:
        assert _desired(session, ada) == {"bot": "stopped", "dozy": "stopped", "off": "stopped"}
        assert _desired(session, bob) == {"bob-bot": "running"}
        reasons = session.scalars(select(DeploymentEvent.reason).where(
            DeploymentEvent.deployment_id == ada.deployments["bot"].id)).all()
        assert reasons == ["stopped: monthly budget of $100.00 reached"]
        nudged = set(session.scalars(select(Job.deployment_id)))
        assert nudged == {ada.deployments["bot"].id, ada.deployments["dozy"].id}
        alerts = session.scalars(select(BudgetAlert).order_by(BudgetAlert.threshold)).all()
        assert [(a.threshold, a.month, a.action_taken) for a in alerts] == [
            (50, "2026-11", "warned"), (80, "2026-11", "warned"), (100, "2026-11", "stopped")]
        [hundred] = [d for d in session.scalars(select(WebhookDelivery))
                     if d.payload["threshold"] == 100]
        assert hundred.event == "budget.threshold" and hundred.payload["month"] == "2026-11"
        assert hundred.payload["budget"]["monthly_usd"] == 100.0
        assert hundred.payload["spend_usd"] == pytest.approx(100.0)
        # the owner starts it again: this month's stop is spent, it stays running
        session.get_one(Deployment, ada.deployments["bot"].id).desired_state = "running"
        # raising the budget later in the month re-fires nothing
        budgets.put(session, ada.user, None, BudgetIn(monthly_usd=200, action="stop"))

    clock.now = NOW + timedelta(hours=20)  # $240: over the raised budget too
    assert enforcer.run() == 0
    with db.session() as session:
        assert _desired(session, ada)["bot"] == "running"
        assert _deliveries(session, ada.user) == [50, 80, 100]
        assert _deliveries(session, bob.user) == []

    clock.now = datetime(2026, 12, 1, 6, tzinfo=UTC)  # a new month starts over: $60 of $200
    assert enforcer.run() == 0
    clock.now = datetime(2026, 12, 1, 10, tzinfo=UTC)  # $100 of $200
    assert enforcer.run() == 1
    with db.session() as session:
        assert session.scalars(select(BudgetAlert.threshold).where(
            BudgetAlert.month == "2026-12")).all() == [50]


def test_warn_only_warns(platform: Platform) -> None:
    clock = Clock()
    clock.now = NOW + timedelta(hours=10)  # $140 of $100: every threshold at once
    with platform.db.session() as session:
        ada = _tenant(session, "ada@example.com", 10.0, {"bot": "running"})
        budgets.put(session, ada.user, None, BudgetIn(monthly_usd=100, action="warn"))
    assert BudgetEnforcer(platform.db, platform.queue, clock).run() == 1
    with platform.db.session() as session:
        assert _desired(session, ada) == {"bot": "running"}
        assert _deliveries(session, ada.user) == [50, 80, 100]
        assert set(session.scalars(select(BudgetAlert.action_taken))) == {"warned"}
        assert session.scalars(select(Job)).all() == []


def test_a_racing_controllers_alert_does_nothing(platform: Platform) -> None:
    """Two controllers both saw 100 % unalerted: the one that commits second hits the
    alert's unique key and neither stops nor notifies again."""
    with platform.db.session() as session:
        ada = _tenant(session, "ada@example.com", 10.0, {"bot": "running"})
        budget = budgets.put(session, ada.user, None, BudgetIn(monthly_usd=10, action="stop"))
    with platform.db.session() as session:
        first = budget_task._alert(session, session.get_one(Budget, budget.id), "2026-11",
                                   100, 40.0)
        assert first is not None and [d.id for d in first] == [ada.deployments["bot"].id]
    with platform.db.session() as session:
        session.get_one(Deployment, ada.deployments["bot"].id).desired_state = "running"
    with platform.db.session() as session:
        assert budget_task._alert(session, session.get_one(Budget, budget.id), "2026-11",
                                  100, 40.0) is None
    with platform.db.session() as session:
        assert _desired(session, ada) == {"bot": "running"}
        assert _deliveries(session, ada.user) == [100]


def test_key_budget_blocks_that_key_only(platform: Platform) -> None:
    db = platform.db
    now = utcnow()
    with db.session() as session:
        ada = _tenant(session, "ada@example.com", 0.0, {"bot": "running"})
        bot = ada.deployments["bot"]
        # $6 of server this month (at most an hour, so it stays inside the month)
        start = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
                    now - timedelta(hours=1))
        session.add(Instance(deployment_id=bot.id, provider="local", price_per_hour=6.0,
                             created_at=start, terminated_at=now))
        spent = 6.0 * (now - start).total_seconds() / 3600
        rows = {}
        for name in ("capped", "free"):
            rows[name] = api_keys.create(session, ada.user, ApiKeyCreate(name=name))
            # each key used half of the deployment's tokens: half its server dollars
            session.add(UsageDaily(day=now.date(), user_id=ada.user.id,
                                   api_key_id=rows[name][0].id, deployment_id=bot.id,
                                   model="m", requests=1, prompt_tokens=50,
                                   completion_tokens=0))
        capped, free = rows["capped"], rows["free"]
        budgets.put(session, ada.user, capped[0].id,
                    BudgetIn(monthly_usd=spent / 2 * 0.9, action="stop"))
        budgets.put(session, ada.user, free[0].id,
                    BudgetIn(monthly_usd=spent / 2 * 0.9, action="warn"))
    assert BudgetEnforcer(db, platform.queue).run() == 2
    with db.session() as session:
        taken = dict(session.execute(select(Budget.scope, BudgetAlert.action_taken).join(
            Budget, Budget.id == BudgetAlert.budget_id).where(BudgetAlert.threshold == 100)
            ).all())
        assert taken == {capped[0].id: "blocked", free[0].id: "warned"}
        assert _desired(session, ada) == {"bot": "running"}  # a key budget stops no server

    gate = MonthlyBudget()
    blocked = asyncio.run(database_loader(db)(hash_secret(capped[1])))
    assert blocked is not None and blocked.month_spend_usd == pytest.approx(spent / 2, rel=1e-3)
    with pytest.raises(RateLimited) as refused:
        gate.check(blocked)
    assert refused.value.status_code == 429 and refused.value.code == "insufficient_quota"
    allowed = asyncio.run(database_loader(db)(hash_secret(free[1])))
    assert allowed is not None and allowed.spend_budget_usd is None
    gate.check(allowed)

    with db.session() as session:  # a raised budget lets it through at its next load
        budgets.put(session, ada.user, capped[0].id, BudgetIn(monthly_usd=1000, action="stop"))
    raised = asyncio.run(database_loader(db)(hash_secret(capped[1])))
    assert raised is not None
    gate.check(raised)


def test_the_task_is_wired_into_the_autopilot(platform: Platform) -> None:
    assert "budgets" in [task.name for task in autopilot_tasks(platform)]



def test_two_controllers_racing_alert_and_stop_once(platform: Platform, db_url: str) -> None:
    """Real concurrency (PostgreSQL; SQLite serialises writers): controllers in threads check
    the same budget at once, over and over; each threshold is alerted, notified and acted on
    exactly once."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite lets one writer in at a time: the race needs PostgreSQL")
    clock = Clock()
    clock.now = NOW + timedelta(hours=10)  # $140 of $100
    with platform.db.session() as session:
        ada = _tenant(session, "ada@example.com", 10.0, {"bot": "running", "two": "running"})
        budget = budgets.put(session, ada.user, None, BudgetIn(monthly_usd=100, action="stop"))
    enforcers = [BudgetEnforcer(platform.db, platform.queue, clock) for _ in range(4)]
    start = threading.Barrier(len(enforcers))

    def race(enforcer: BudgetEnforcer) -> int:
        start.wait()
        return sum(enforcer.check(budget.id) for _ in range(3))

    with ThreadPoolExecutor(len(enforcers)) as pool:
        acted = list(pool.map(race, enforcers))
    assert sum(acted) >= 1
    with platform.db.session() as session:
        assert _deliveries(session, ada.user) == [50, 80, 100]
        assert sorted(session.scalars(select(BudgetAlert.threshold))) == [50, 80, 100]
        events = session.scalars(select(DeploymentEvent.deployment_id).where(
            DeploymentEvent.reason.startswith("stopped: monthly budget"))).all()
        assert sorted(events) == sorted(d.id for d in ada.deployments.values())
