"""What a user (or one API key) has spent this calendar month (UTC), and where the month is
heading: the figures budgets are checked against (``docs/autopilot.md``, "Budgets").

Which dollars count, once each:

* **Server hours** — every instance of the user's deployments (live, or terminated this month)
  costs its ``price_per_hour`` for the hours it existed inside the month. This is what the
  user really pays for: a model runs on servers the user rents by the hour.
* **Token charges** — ``usage_daily.cost_usd``, a per-token price the gateway's meter may
  record on top of the servers. The gateway records none today (it writes 0): tokens run on
  the user's own servers, so their cost *is* those servers' hours.
* Not added again: the per-token cost the usage report shows (``services.usage``) is the
  server hours shared out over the tokens they served — the same dollars as the server hours.

A user's spend = server hours + token charges. A key's spend = its share of the server hours of
the deployments it called (in proportion to its tokens, as the usage report attributes them)
+ its own token charges, so a key budget is a limit inside the user's spend, never added to it.

Everything here reads the session and takes ``now`` explicitly, so figures are exact in tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flowllama.db.tables import Deployment, Instance, UsageDaily

HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class Month:
    """One calendar month in UTC: ``[start, end)`` and its ``YYYY-MM`` label."""

    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


def month_of(now: datetime) -> Month:
    """The calendar month (UTC) that contains ``now``."""
    now = now.astimezone(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return Month(start, end)


@dataclass(frozen=True, slots=True)
class Spend:
    """A user's month so far: ``server_usd`` + ``tokens_usd`` = ``spend_usd``."""

    month: str
    server_usd: float
    tokens_usd: float

    @property
    def spend_usd(self) -> float:
        return self.server_usd + self.tokens_usd


def hours_within(created_at: datetime, terminated_at: datetime | None, start: datetime | None,
                 end: datetime) -> float:
    """Hours of ``[created_at, terminated_at or end)`` that fall inside ``[start, end)``
    (``start`` None: since ``created_at``)."""
    begin = max(created_at, start) if start is not None else created_at
    finish = min(terminated_at or end, end)
    return max(0.0, (finish - begin).total_seconds() / HOUR_S)


def user_spend(session: Session, user_id: str, now: datetime) -> Spend:
    """The user's spend this month, up to ``now``."""
    month = month_of(now)
    server = sum(server_costs(_user_instances(session, user_id, month, now),
                                   month.start, now).values())
    tokens = session.scalar(
        select(func.coalesce(func.sum(UsageDaily.cost_usd), 0.0)).where(
            UsageDaily.user_id == user_id, UsageDaily.day >= month.first_day,
            UsageDaily.day <= month.last_day))
    return Spend(month.label, round(server, 6), round(float(tokens or 0.0), 6))


def key_spend(session: Session, api_key_id: str, now: datetime) -> float:
    """The key's spend this month: its tokens' share of the server hours of each deployment it
    called (shares by tokens among all the deployment's usage this month) + its token
    charges."""
    month = month_of(now)
    in_month = (UsageDaily.day >= month.first_day, UsageDaily.day <= month.last_day)
    own = session.scalars(select(UsageDaily).where(UsageDaily.api_key_id == api_key_id,
                                                   *in_month)).all()
    if not own:
        return 0.0
    mine: dict[str, int] = defaultdict(int)
    for row in own:
        if row.deployment_id is not None:
            mine[row.deployment_id] += row.prompt_tokens + row.completion_tokens
    totals = dict(session.execute(
        select(UsageDaily.deployment_id,
               func.sum(UsageDaily.prompt_tokens + UsageDaily.completion_tokens))
        .where(UsageDaily.deployment_id.in_(list(mine)), *in_month)
        .group_by(UsageDaily.deployment_id)).all())
    instances = session.scalars(select(Instance).where(
        Instance.deployment_id.in_(list(mine)), *_overlapping(month, now))).all()
    costs = server_costs(instances, month.start, now)
    share = sum(costs.get(dep, 0.0) * tokens / int(totals[dep])
                for dep, tokens in mine.items() if totals.get(dep))
    return round(share + sum(row.cost_usd for row in own), 6)


def projection(session: Session, user_id: str, now: datetime) -> float:
    """The month's expected total: spend so far + the live servers' $/h for the hours left +
    the token charges of the last 24 h, per hour, for the hours left.

    ``usage_daily`` counts by day, so "the last 24 h" is today's rows plus yesterday's scaled
    by the part of yesterday that lies within the last 24 hours."""
    month = month_of(now)
    hours_left = max(0.0, (month.end - now).total_seconds() / HOUR_S)
    live_rate = sum(row.price_per_hour or 0.0 for row in _user_instances(session, user_id,
                                                                         month, now)
                    if row.terminated_at is None)
    token_rate = _token_charges_last_day(session, user_id, now) / 24
    spend = user_spend(session, user_id, now).spend_usd
    return round(spend + (live_rate + token_rate) * hours_left, 6)


def _token_charges_last_day(session: Session, user_id: str, now: datetime) -> float:
    today = now.astimezone(UTC).date()
    yesterday = today - timedelta(days=1)
    rows = session.execute(
        select(UsageDaily.day, func.sum(UsageDaily.cost_usd))
        .where(UsageDaily.user_id == user_id, UsageDaily.day >= yesterday,
               UsageDaily.day <= today)
        .group_by(UsageDaily.day)).all()
    by_day = {day: float(cost or 0.0) for day, cost in rows}
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    yesterday_part = 1.0 - (now - midnight).total_seconds() / (24 * HOUR_S)
    return by_day.get(today, 0.0) + by_day.get(yesterday, 0.0) * yesterday_part


def _overlapping(month: Month, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Instance filters: it existed at some point of the month up to ``now``."""
    return (Instance.created_at < min(month.end, now),
            or_(Instance.terminated_at.is_(None), Instance.terminated_at > month.start))


def _user_instances(session: Session, user_id: str, month: Month, now: datetime
                    ) -> list[Instance]:
    return list(session.scalars(
        select(Instance).join(Deployment, Deployment.id == Instance.deployment_id)
        .where(Deployment.user_id == user_id, *_overlapping(month, now))
    ).all())


def server_costs(instances: Iterable[Instance], start: datetime | None, now: datetime
                 ) -> dict[str, float]:
    """Each deployment's server dollars from ``start`` (None: since each server was created)
    to ``now``: every instance's $/h over the hours it existed in between. The one place
    server cost is computed (a deployment's cost so far, the usage report, budgets)."""
    costs: dict[str, float] = defaultdict(float)
    for row in instances:
        if row.price_per_hour:
            costs[row.deployment_id] += row.price_per_hour * hours_within(
                row.created_at, row.terminated_at, start, now)
    return costs
