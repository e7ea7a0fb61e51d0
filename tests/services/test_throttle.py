"""The shared fixed-window counter on SQLite and PostgreSQL: atomic under parallel hits from
separate sessions, restarting when the window ends, and purged when old."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from flowllama.db.session import Database
from flowllama.db.types import utcnow
from flowllama.errors import RateLimited
from flowllama.services import throttle

LIMIT = throttle.Limit(max=5, window_s=60)


def _hit(database: Database, subject: str = "s") -> int:
    with database.session() as session:
        return throttle.hit(session, subject, LIMIT).count


def test_parallel_hits_each_see_a_distinct_count(database: Database) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        counts = sorted(pool.map(lambda _: _hit(database), range(40)))
    assert counts == list(range(1, 41))


def test_enforce_lets_exactly_max_through_in_parallel(database: Database) -> None:
    def attempt(_: int) -> bool:
        try:
            with database.session() as session:
                throttle.enforce(session, "login:x", LIMIT, "slow down")
        except RateLimited as exc:
            assert exc.retry_after >= 1
            return False
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        passed = sum(pool.map(attempt, range(40)))
    assert passed == LIMIT.max


def test_window_restarts_after_it_ends(database: Database) -> None:
    long_ago = utcnow() - timedelta(seconds=LIMIT.window_s + 1)
    with database.session() as session:
        for _ in range(3):
            throttle.hit(session, "s", LIMIT, now=long_ago)
    assert _hit(database) == 1


def test_give_back_and_forget(database: Database) -> None:
    for _ in range(3):
        _hit(database)
    with database.session() as session:
        throttle.give_back(session, "s")
    assert _hit(database) == 3
    with database.session() as session:
        throttle.forget(session, "s")
    assert _hit(database) == 1


@pytest.mark.parametrize("age_s", [10, 7200])
def test_purge_drops_only_old_windows(database: Database, age_s: int) -> None:
    with database.session() as session:
        throttle.hit(session, "s", LIMIT, now=utcnow() - timedelta(seconds=age_s))
        purged = throttle.purge(session, older_than_s=3600)
    assert purged == (1 if age_s > 3600 else 0)


@pytest.mark.parametrize(("address", "bucket"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),  # an IPv4 client on a dual-stack socket
    (None, "unknown"),
    ("", "unknown"),
    ("testclient", "testclient"),
])
def test_address_bucket_is_the_ipv4_address_or_the_ipv6_64(address: str | None,
                                                            bucket: str) -> None:
    assert throttle.address_bucket(address) == bucket


def test_ipv6_neighbours_share_a_bucket_and_other_64s_do_not() -> None:
    own = {throttle.address_bucket(f"2001:db8:1:2::{i:x}") for i in range(1, 200)}
    assert len(own) == 1
    assert throttle.address_bucket("2001:db8:1:3::1") not in own
