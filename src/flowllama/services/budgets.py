"""Monthly spend budgets of a user (all their deployments) or of one API key: set, remove,
and report them with the month's spend (``services.spend``) and the alerts they raised.

A budget is one row per user and scope (``user`` or the key's id). Changing it keeps the row,
so thresholds already alerted this month stay alerted (raising a budget never re-fires them);
removing it removes its alerts too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.autopilot_tables import Budget, BudgetAlert
from flowllama.db.tables import ApiKey, User
from flowllama.domain.budgets import (
    THRESHOLDS,
    USER_SCOPE,
    AlertOut,
    BudgetIn,
    BudgetOut,
    SpendOut,
)
from flowllama.errors import NotFound
from flowllama.services import spend


def crossed(spent_usd: float, monthly_usd: float) -> list[int]:
    """The thresholds (percent) that ``spent_usd`` has reached of ``monthly_usd``."""
    return [t for t in THRESHOLDS if spent_usd >= monthly_usd * t / 100]


def budget_spend(session: Session, budget: Budget, now: datetime) -> float:
    """What counts against ``budget`` this month: the user's spend, or the key's."""
    if budget.api_key_id is None:
        return spend.user_spend(session, budget.user_id, now).spend_usd
    return spend.key_spend(session, budget.api_key_id, now)


def put(session: Session, user: User, key_id: str | None, body: BudgetIn) -> Budget:
    """Create or change the user's budget (``key_id`` None) or the budget of one of their live
    keys (another user's, a revoked or an unknown key: 404)."""
    if key_id is not None:
        _live_key(session, user, key_id)
    scope = key_id or USER_SCOPE
    row = _find(session, user, scope)
    if row is None:
        try:
            with session.begin_nested():  # a concurrent PUT may insert the same scope first
                row = Budget(user_id=user.id, scope=scope, api_key_id=key_id,
                             monthly_usd=body.monthly_usd, action=body.action)
                session.add(row)
            return row
        except IntegrityError:
            row = _find(session, user, scope)
            if row is None:
                raise
    row.monthly_usd = body.monthly_usd
    row.action = body.action
    session.flush()
    return row


def delete(session: Session, user: User, key_id: str | None) -> None:
    """Remove the user's budget or a key's budget (404 when there is none) and its alerts."""
    row = _find(session, user, key_id or USER_SCOPE)
    if row is None:
        raise NotFound("Budget not found", field="key_id" if key_id else "scope")
    session.delete(row)
    session.flush()


def views(session: Session, user: User, now: datetime) -> list[BudgetOut]:
    """The user's budgets (theirs first, then keys by name) with this month's spend."""
    rows = session.scalars(select(Budget).where(Budget.user_id == user.id)).all()
    names = dict(session.execute(select(ApiKey.id, ApiKey.name).where(
        ApiKey.user_id == user.id)).all())
    out = [view(session, row, now, names.get(row.api_key_id or "")) for row in rows]
    return sorted(out, key=lambda b: (b.scope != USER_SCOPE, b.label))


def view(session: Session, row: Budget, now: datetime, key_name: str | None = None
         ) -> BudgetOut:
    """One budget, its spend this month and the alerts it raised this month."""
    if key_name is None and row.api_key_id is not None:
        key_name = session.scalar(select(ApiKey.name).where(ApiKey.id == row.api_key_id))
    spent = budget_spend(session, row, now)
    alerts = session.scalars(select(BudgetAlert).where(
        BudgetAlert.budget_id == row.id, BudgetAlert.month == spend.month_of(now).label)
        .order_by(BudgetAlert.threshold)).all()
    is_user = row.api_key_id is None
    return BudgetOut(
        scope="user" if is_user else "key", api_key_id=row.api_key_id,
        label="All deployments" if is_user else f"key {key_name or row.api_key_id}",
        monthly_usd=row.monthly_usd, action="stop" if row.action == "stop" else "warn",
        spent_usd=round(spent, 6), percent=round(spent / row.monthly_usd * 100, 2),
        alerts=[AlertOut(threshold=a.threshold, at=a.at, action_taken=a.action_taken)
                for a in alerts])


def report(session: Session, user: User, now: datetime) -> SpendOut:
    """The user's month: spend so far, its parts, the projection, every budget."""
    so_far = spend.user_spend(session, user.id, now)
    return SpendOut(month=so_far.month, spend_usd=round(so_far.spend_usd, 6),
                    server_usd=so_far.server_usd, tokens_usd=so_far.tokens_usd,
                    projection_usd=spend.projection(session, user.id, now),
                    budgets=views(session, user, now))


def _find(session: Session, user: User, scope: str) -> Budget | None:
    return session.scalar(select(Budget).where(Budget.user_id == user.id,
                                               Budget.scope == scope))


def _live_key(session: Session, user: User, key_id: str) -> ApiKey:
    row = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id,
                                              ApiKey.revoked_at.is_(None)))
    if row is None:
        raise NotFound("API key not found", field="key_id")
    return row
