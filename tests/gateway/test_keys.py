"""The key cache: hits within the TTL, re-reads after it, caches unknown keys, refuses revoked
and expired keys, and forgets an invalidated key at once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from flowllama.db.session import Database
from flowllama.db.types import utcnow
from flowllama.errors import Unauthorized
from flowllama.gateway.keys import KeyCache, KeyInfo, database_loader
from flowllama.security.tokens import hash_secret
from gateway.conftest import make_owner

SECRET = "fl-" + "k" * 43
INFO = KeyInfo(id="k1", user_id="u1", key_hash=hash_secret(SECRET), models=None, rpm=None,
               tpm=None, monthly_token_budget=None, expires_at=None, revoked=False)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Loader:
    def __init__(self, info: KeyInfo | None) -> None:
        self.info = info
        self.calls = 0

    async def __call__(self, key_hash: str) -> KeyInfo | None:
        self.calls += 1
        return self.info if self.info and self.info.key_hash == key_hash else None


def _auth(cache: KeyCache, secret: str = SECRET) -> KeyInfo:
    return asyncio.run(cache.authenticate(secret))


def test_cached_within_the_ttl_then_read_again() -> None:
    loader, clock = Loader(INFO), Clock()
    cache = KeyCache(loader, ttl_s=5, clock=clock)
    assert _auth(cache) == INFO and _auth(cache) == INFO
    assert loader.calls == 1
    loader.info = replace(INFO, revoked=True)  # revoked elsewhere
    assert _auth(cache) == INFO  # still within the TTL
    clock.now = 5.1
    with pytest.raises(Unauthorized, match="revoked"):
        _auth(cache)
    assert loader.calls == 2


def test_unknown_keys_are_cached_too() -> None:
    loader = Loader(None)
    cache = KeyCache(loader, ttl_s=5, clock=Clock())
    for _ in range(3):
        with pytest.raises(Unauthorized) as caught:
            _auth(cache)
        assert caught.value.code == "invalid_api_key"
    assert loader.calls == 1
    with pytest.raises(Unauthorized):
        _auth(cache, "sk-not-ours")  # wrong shape: no lookup at all
    assert loader.calls == 1


def test_invalidate_forgets_at_once() -> None:
    loader = Loader(INFO)
    cache = KeyCache(loader, ttl_s=60, clock=Clock())
    _auth(cache)
    loader.info = replace(INFO, revoked=True)
    cache.invalidate(INFO.key_hash)
    with pytest.raises(Unauthorized):
        _auth(cache)


def test_expiry_is_exact_even_when_cached() -> None:
    loader = Loader(replace(INFO, expires_at=utcnow() + timedelta(milliseconds=200)))
    cache = KeyCache(loader, ttl_s=60, clock=Clock())
    _auth(cache)
    loader.info = None
    asyncio.run(asyncio.sleep(0.25))
    with pytest.raises(Unauthorized, match="expired"):
        _auth(cache)


def test_allows_by_any_name() -> None:
    assert INFO.allows("x")
    limited = replace(INFO, models=frozenset({"bot"}))
    assert limited.allows("other", "bot") and not limited.allows("other")


def test_database_loader_reads_the_key(database: Database) -> None:
    owner = make_owner(database, "ada@example.com", models=["bot"], rpm=5)
    info = asyncio.run(database_loader(database)(hash_secret(owner.key)))
    assert info is not None and info.id == owner.key_id and info.user_id == owner.user.id
    assert info.models == frozenset({"bot"}) and info.rpm == 5 and not info.revoked
    assert asyncio.run(database_loader(database)(hash_secret(owner.key + "x"))) is None


def test_database_loader_reads_the_months_tokens_for_budget_keys(database: Database) -> None:
    from flowllama.db.tables import UsageDaily
    from gateway.conftest import add_deployment

    owner = make_owner(database, "ada@example.com", monthly_token_budget=100)
    deployment = add_deployment(database, owner, "bot", "m", [])
    today = utcnow().date()
    with database.session() as session:
        session.add(UsageDaily(day=today, user_id=owner.user.id, api_key_id=owner.key_id,
                               deployment_id=deployment.id, model="m", requests=1,
                               prompt_tokens=30, completion_tokens=12))
    info = asyncio.run(database_loader(database)(hash_secret(owner.key)))
    assert info is not None and info.month_tokens == 42
    assert info.month == today.strftime("%Y-%m") and info.loaded_at > 0


def test_a_burst_on_a_cold_key_loads_it_once() -> None:
    started = 0

    async def slow_loader(key_hash: str) -> KeyInfo | None:
        nonlocal started
        started += 1
        await asyncio.sleep(0.05)
        return INFO

    async def burst() -> list[KeyInfo]:
        cache = KeyCache(slow_loader, ttl_s=5)
        return await asyncio.gather(*(cache.authenticate(SECRET) for _ in range(20)))

    assert asyncio.run(burst()) == [INFO] * 20
    assert started == 1


def test_a_load_racing_an_invalidation_is_not_cached() -> None:
    loader = Loader(INFO)

    async def scenario() -> None:
        cache = KeyCache(loader, ttl_s=60)
        gate, read_done = asyncio.Event(), asyncio.Event()
        real = loader.__call__

        async def gated(key_hash: str) -> KeyInfo | None:
            read = await real(key_hash)  # read before the revocation commits...
            read_done.set()
            await gate.wait()  # ...and returned after it
            return read

        cache._loader = gated
        first = asyncio.ensure_future(cache.authenticate(SECRET))
        await read_done.wait()
        cache.invalidate(INFO.key_hash)  # revoked while the load was in flight
        loader.info = replace(INFO, revoked=True)
        gate.set()
        assert await first == INFO  # the request that raced the revocation may pass once
        cache._loader = real
        with pytest.raises(Unauthorized):
            await cache.authenticate(SECRET)

    asyncio.run(scenario())
