"""Resolve a presented API key to what the gateway needs, from a short-lived in-memory cache.

Entries (found or not found) live ``ttl_s`` seconds, so a key revoked through another process
stops working within that time, and a key revoked through this process at once
(:meth:`KeyCache.invalidate`). Expiry is checked on every request against the cached
``expires_at``, so it is exact. Unknown keys are cached too: a client retrying with a wrong key
costs one database read per TTL, not one per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from flowllama.db.autopilot_tables import Budget
from flowllama.db.session import Database
from flowllama.db.types import utcnow
from flowllama.errors import Unauthorized
from flowllama.security.tokens import hash_secret
from flowllama.services import api_keys, spend, usage

MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as the gateway sees it (never the key itself)."""

    id: str
    user_id: str
    key_hash: str
    models: frozenset[str] | None
    rpm: int | None
    tpm: int | None
    monthly_token_budget: int | None
    expires_at: datetime | None
    revoked: bool
    # Tokens the database held for this key's current month when it was loaded (budget keys
    # only), and the month that was ("YYYY-MM").
    month: str = ""
    month_tokens: int = 0
    loaded_at: float = 0.0  # monotonic time of the load: tells one load from the next
    # The key's spend budget with action ``stop`` (None: none) and the key's spend in
    # ``month`` when it was loaded (``services.spend.key_spend``): at or over it, the gateway
    # refuses the key until the next month or a raised budget (``docs/autopilot.md``).
    spend_budget_usd: float | None = None
    month_spend_usd: float = 0.0

    def allows(self, *names: str) -> bool:
        """Whether the key's model allow-list (if any) names one of ``names``."""
        return self.models is None or any(name in self.models for name in names)


KeyLoader = Callable[[str], Awaitable[KeyInfo | None]]


def database_loader(db: Database) -> KeyLoader:
    """A loader that reads the key by its hash in a worker thread (SQLAlchemy is sync)."""
    import anyio.to_thread

    def load(key_hash: str) -> KeyInfo | None:
        with db.session() as session:
            row = api_keys.find_by_hash(session, key_hash)
            if row is None:
                return None
            now = utcnow()
            today = now.date()
            month_tokens = usage.key_tokens_since(session, row.id, today.replace(day=1)) \
                if row.monthly_token_budget is not None else 0
            spend_budget = session.scalar(select(Budget.monthly_usd).where(
                Budget.scope == row.id, Budget.action == "stop"))
            month_spend = spend.key_spend(session, row.id, now) \
                if spend_budget is not None else 0.0
            return KeyInfo(
                id=row.id, user_id=row.user_id, key_hash=row.key_hash,
                models=frozenset(row.models) if row.models is not None else None,
                rpm=row.rpm, tpm=row.tpm, monthly_token_budget=row.monthly_token_budget,
                expires_at=row.expires_at, revoked=row.revoked_at is not None,
                month=today.strftime("%Y-%m"), month_tokens=month_tokens,
                loaded_at=time.monotonic(), spend_budget_usd=spend_budget,
                month_spend_usd=month_spend,
            )

    async def load_async(key_hash: str) -> KeyInfo | None:
        return await anyio.to_thread.run_sync(load, key_hash)

    return load_async


class KeyCache:
    """Presented key → :class:`KeyInfo`, or :class:`Unauthorized` for a bad, revoked or expired
    key. Cached by the key's SHA-256, so no secret is kept in memory longer than a request."""

    def __init__(self, loader: KeyLoader, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._loader = loader
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, KeyInfo | None]] = {}
        # One database read per key at a time: a burst on a cold key waits for the same load.
        self._loading: dict[str, asyncio.Task[KeyInfo | None]] = {}
        # Bumped by ``invalidate``: a load that started before it must not be cached.
        self._generation = 0

    async def authenticate(self, secret: str) -> KeyInfo:
        """The usable key behind ``secret``; raises ``Unauthorized`` (code ``invalid_api_key``)."""
        if not secret.startswith(api_keys.KEY_PREFIX):
            raise Unauthorized("Invalid API key", code="invalid_api_key")
        info = await self._lookup(hash_secret(secret))
        if info is None:
            raise Unauthorized("Invalid API key", code="invalid_api_key")
        if info.revoked:
            raise Unauthorized("This API key has been revoked", code="invalid_api_key")
        if info.expires_at is not None and info.expires_at <= utcnow():
            raise Unauthorized("This API key has expired", code="invalid_api_key")
        return info

    def invalidate(self, key_hash: str) -> None:
        """Forget one key now (it was revoked or changed through this process)."""
        self._entries.pop(key_hash, None)
        self._loading.pop(key_hash, None)
        self._generation += 1

    async def _lookup(self, key_hash: str) -> KeyInfo | None:
        now = self._clock()
        cached = self._entries.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        task = self._loading.get(key_hash)
        if task is None:
            # The load runs as its own task: a requester that goes away does not cancel it
            # for the others waiting on it.
            task = asyncio.ensure_future(self._load(key_hash))
            self._loading[key_hash] = task
            task.add_done_callback(
                lambda done: self._loading.pop(key_hash, None)
                if self._loading.get(key_hash) is done else None)
        return await asyncio.shield(task)

    async def _load(self, key_hash: str) -> KeyInfo | None:
        generation = self._generation
        info = await self._loader(key_hash)
        if generation != self._generation:  # may predate a revocation: use once, never cache
            return info
        now = self._clock()
        if len(self._entries) >= MAX_ENTRIES:
            self._evict(now)
        self._entries[key_hash] = (now + self._ttl_s, info)
        return info

    def _evict(self, now: float) -> None:
        # Expired entries first; if the cache is still full (a flood of random keys), start
        # over rather than let memory grow.
        self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
