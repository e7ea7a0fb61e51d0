"""Month spend on SQLite and PostgreSQL, with exact numbers: server hours clipped to the month
(live, terminated, started last month), token charges, a key's share by tokens, another user's
servers never counted, and the month's projection."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import ApiKey, Deployment, Instance, UsageDaily, User
from flowllama.services import spend

# 10:00 on 2026-11-16: the month so far is 15 days 10 hours; 14 days 14 hours are left.
NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS_LEFT = 14 * 24 + 14


def _user(session: Session, email: str) -> User:
    user = User(email=email, password_hash="x")
    session.add(user)
    session.flush()
    return user


def _deployment(session: Session, user: User, name: str) -> Deployment:
    row = Deployment(user_id=user.id, name=name, model="m", context_size=512)
    session.add(row)
    session.flush()
    return row


def _instance(deployment: Deployment, price: float | None, created: datetime,
              terminated: datetime | None = None) -> Instance:
    return Instance(deployment_id=deployment.id, provider="local", price_per_hour=price,
                    created_at=created, terminated_at=terminated)


def _usage(user: User, key: ApiKey | None, deployment: Deployment, day: date, tokens: int,
           cost: float = 0.0) -> UsageDaily:
    return UsageDaily(day=day, user_id=user.id, api_key_id=key.id if key else None,
                      deployment_id=deployment.id, model="m", requests=1,
                      prompt_tokens=tokens, completion_tokens=0, cost_usd=cost)


def test_month_bounds() -> None:
    december = spend.month_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert (december.label, december.start, december.end) == (
        "2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert december.first_day == date(2026, 12, 1) and december.last_day == date(2026, 12, 31)
    assert spend.hours_within(MONTH_START - timedelta(hours=5), MONTH_START + timedelta(hours=2),
                              MONTH_START, NOW) == 2.0
    assert spend.hours_within(NOW - timedelta(hours=1), None, MONTH_START, NOW) == 1.0
    assert spend.hours_within(NOW + timedelta(hours=1), None, MONTH_START, NOW) == 0.0


def test_user_spend_key_spend_and_projection(database: Database) -> None:
    with database.session() as session:
        ada, bob = _user(session, "ada@example.com"), _user(session, "bob@example.com")
        bot, old = _deployment(session, ada, "bot"), _deployment(session, ada, "old")
        other = _deployment(session, bob, "other")
        key_a = ApiKey(user_id=ada.id, name="a", prefix="fl-a", key_hash="a" * 64)
        key_b = ApiKey(user_id=ada.id, name="b", prefix="fl-b", key_hash="b" * 64)
        session.add_all([key_a, key_b])
        session.flush()
        session.add_all([
            # live at $2/h for the last 10 h: $20 (and $2/h of burn for the rest of the month)
            _instance(bot, 2.0, NOW - timedelta(hours=10)),
            # $1/h, started 4 h before the month, ended 6 h into it: $6 of this month
            _instance(bot, 1.0, MONTH_START - timedelta(hours=4),
                      MONTH_START + timedelta(hours=6)),
            # terminated last month: nothing this month
            _instance(old, 5.0, MONTH_START - timedelta(days=3),
                      MONTH_START - timedelta(days=1)),
            # no price (a local server): nothing
            _instance(old, None, NOW - timedelta(hours=3)),
            # another user's server: not ada's spend
            _instance(other, 100.0, NOW - timedelta(hours=10)),
            # key a: 300 tokens, key b: 100 of bot's 400 this month; b also pays $0.30 directly
            _usage(ada, key_a, bot, NOW.date(), 300),
            _usage(ada, key_b, bot, NOW.date() - timedelta(days=1), 100, cost=0.30),
            # last month's usage counts for nothing
            _usage(ada, key_a, bot, date(2026, 10, 31), 10_000, cost=9.0),
            # a direct token charge of $0.24 today (no key: a deleted key's row)
            _usage(ada, None, bot, NOW.date(), 0, cost=0.24),
        ])
    with database.session() as session:
        got = spend.user_spend(session, ada.id, NOW)
        assert (got.month, got.server_usd, got.tokens_usd) == ("2026-11", 26.0, 0.54)
        assert got.spend_usd == pytest.approx(26.54)
        assert spend.user_spend(session, bob.id, NOW).server_usd == 1000.0
        # key a: 3/4 of bot's $26 of servers; key b: 1/4 of it + its $0.30
        assert spend.key_spend(session, key_a.id, NOW) == pytest.approx(19.5)
        assert spend.key_spend(session, key_b.id, NOW) == pytest.approx(6.5 + 0.30)
        assert spend.key_spend(session, "no-such-key", NOW) == 0.0
        # burn: $2/h of live servers + token charges of the last 24 h ($0.24 today + $0.30
        # yesterday times the 14 h of yesterday within the last 24 h) / 24 h
        token_rate = (0.24 + 0.30 * 14 / 24) / 24
        assert spend.projection(session, ada.id, NOW) == pytest.approx(
            26.54 + (2.0 + token_rate) * HOURS_LEFT, abs=1e-5)
