"""Usage reports from the ``usage_daily`` rollup, with cost attributed from instance $/h.

Cost: each deployment's instances cost their ``price_per_hour`` for every hour they existed
inside the range; that cost is shared among the deployment's usage rows in proportion to
their tokens, then rows are grouped. So a group's ``usd_per_million_tokens`` is what its
tokens really cost on the hardware that served them (an idle deployment costs money but adds
no tokens, which shows as a high $ per 1M tokens).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowllama.db.tables import ApiKey, Deployment, Instance, UsageDaily, User
from flowllama.db.types import utcnow
from flowllama.domain.usage import UsageGroup, UsageQuery, UsageReport, UsageTotals
from flowllama.services import spend


def report(session: Session, user: User, query: UsageQuery) -> UsageReport:
    """The user's usage from ``query.from_`` to ``query.to``, grouped as asked."""
    rows = list(session.scalars(
        select(UsageDaily).where(UsageDaily.user_id == user.id,
                                 UsageDaily.day >= query.from_, UsageDaily.day <= query.to)
    ).all())
    costs = _row_costs(session, rows, query.from_, query.to)
    labels = _labels(session, user, query.group_by, rows)
    groups: dict[str, UsageTotals] = defaultdict(UsageTotals)
    total = UsageTotals()
    for row, cost in zip(rows, costs, strict=True):
        key = _group_of(row, query.group_by)
        for totals in (groups[key], total):
            _add(totals, row, cost)
    items = [UsageGroup(group=key, label=labels.get(key, key), **_finish(t).model_dump())
             for key, t in sorted(groups.items())]
    return UsageReport(from_=query.from_, to=query.to, group_by=query.group_by, items=items,
                       total=_finish(total))


def key_tokens_since(session: Session, api_key_id: str, first_day: date) -> int:
    """Tokens recorded for a key from ``first_day`` on (the monthly budget's starting point)."""
    used = session.scalar(
        select(func.coalesce(func.sum(UsageDaily.prompt_tokens + UsageDaily.completion_tokens),
                             0))
        .where(UsageDaily.api_key_id == api_key_id, UsageDaily.day >= first_day)
    )
    return int(used or 0)


def _group_of(row: UsageDaily, group_by: str) -> str:
    if group_by == "key":
        return row.api_key_id or "deleted"
    if group_by == "deployment":
        return row.deployment_id or "deleted"
    return row.day.isoformat()


def _add(totals: UsageTotals, row: UsageDaily, cost: float) -> None:
    totals.requests += row.requests
    totals.prompt_tokens += row.prompt_tokens
    totals.completion_tokens += row.completion_tokens
    totals.cost_usd += cost


def _finish(totals: UsageTotals) -> UsageTotals:
    tokens = totals.prompt_tokens + totals.completion_tokens
    per_million = round(totals.cost_usd / tokens * 1_000_000, 6) if tokens else None
    return totals.model_copy(update={"total_tokens": tokens,
                                     "cost_usd": round(totals.cost_usd, 6),
                                     "usd_per_million_tokens": per_million})


def _row_costs(session: Session, rows: list[UsageDaily], start: date, end: date
               ) -> list[float]:
    """Each row's share of its deployment's hardware cost over the range."""
    deployment_ids = {row.deployment_id for row in rows if row.deployment_id}
    cost = _deployment_costs(session, deployment_ids, start, end)
    tokens: dict[str | None, int] = defaultdict(int)
    for row in rows:
        tokens[row.deployment_id] += row.prompt_tokens + row.completion_tokens
    shares = []
    for row in rows:
        total = tokens[row.deployment_id]
        own = row.prompt_tokens + row.completion_tokens
        shares.append(cost.get(row.deployment_id or "", 0.0) * own / total if total else 0.0)
    return shares


def _deployment_costs(session: Session, deployment_ids: Iterable[str], start: date, end: date
                      ) -> dict[str, float]:
    ids = list(deployment_ids)
    if not ids:
        return {}
    begin = datetime.combine(start, time(), tzinfo=UTC)
    finish = min(datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC), utcnow())
    rows = session.scalars(select(Instance).where(Instance.deployment_id.in_(ids)))
    return spend.server_costs(rows, begin, finish)


def _labels(session: Session, user: User, group_by: str, rows: list[UsageDaily]
            ) -> dict[str, str]:
    if group_by == "key":
        ids = {row.api_key_id for row in rows if row.api_key_id}
        return {k.id: f"{k.name} ({k.prefix}…)" for k in session.scalars(
            select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.id.in_(ids)))}
    if group_by == "deployment":
        ids = {row.deployment_id for row in rows if row.deployment_id}
        return {d.id: d.name for d in session.scalars(
            select(Deployment).where(Deployment.user_id == user.id, Deployment.id.in_(ids)))}
    return {}
