"""API keys: create (shown once), list, revoke, and resolve a presented key to its row.

A key is ``fl-`` plus 32 random bytes (URL-safe base64). Only its SHA-256 is stored: with 256
bits of entropy a fast hash cannot be brute-forced, and an exact-match index lookup on the hash
compares nothing secret in Python, so there is no timing side channel to guard. The first
characters (``prefix``) are kept in clear so the owner can tell keys apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flowllama.db.tables import ApiKey, User
from flowllama.db.types import utcnow
from flowllama.domain.keys import ApiKeyCreate
from flowllama.errors import NotFound
from flowllama.security.tokens import hash_secret, new_secret

KEY_PREFIX = "fl-"
KEY_BYTES = 32
# "fl-" and 8 random characters: enough to tell keys apart, far too few to guess one.
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8


def create(session: Session, user: User, body: ApiKeyCreate) -> tuple[ApiKey, str]:
    """Store a new key for ``user``; returns the row and the key (never stored in clear)."""
    secret = new_secret(KEY_PREFIX, KEY_BYTES)
    row = ApiKey(
        user_id=user.id, name=body.name, prefix=secret[:SHOWN_PREFIX_LENGTH],
        key_hash=hash_secret(secret), models=body.models, rpm=body.rpm, tpm=body.tpm,
        monthly_token_budget=body.monthly_token_budget, expires_at=body.expires_at,
    )
    session.add(row)
    session.flush()
    return row, secret


def list_live(session: Session, user: User) -> list[ApiKey]:
    """The user's unrevoked keys (expired ones included, so the owner sees why they fail)."""
    return list(session.scalars(
        select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc(), ApiKey.id)
    ).all())


def revoke(session: Session, user: User, key_id: str) -> ApiKey:
    """Revoke the user's key; another user's, an unknown or an already revoked key is a 404."""
    row = session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id,
                             ApiKey.revoked_at.is_(None))
    )
    if row is None:
        raise NotFound("API key not found", field="id")
    row.revoked_at = utcnow()
    return row


def find_by_secret(session: Session, secret: str) -> ApiKey | None:
    """The row of a presented key, revoked or expired ones included (the caller decides)."""
    if not secret.startswith(KEY_PREFIX):
        return None
    return find_by_hash(session, hash_secret(secret))


def find_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """The row whose stored hash is ``key_hash`` (the gateway hashes once, then caches)."""
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def is_usable(row: ApiKey, now: datetime | None = None) -> bool:
    """Whether ``row`` may authenticate now: not revoked and not expired."""
    now = now or utcnow()
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


def record_last_used(session: Session, last_used: Mapping[str, datetime]) -> None:
    """Move each key's ``last_used_at`` forward (batched by the gateway, never backwards)."""
    for key_id, at in last_used.items():
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id,
                   (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < at))
            .values(last_used_at=at)
        )
