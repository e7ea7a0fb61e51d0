"""What an administrator does to accounts: list them, disable or enable one, make one an
administrator. Disabling ends every session and revokes every API key of the account at once
(its deployments are left as they are: stopping them is the owner's or an operator's call)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from flowllama.db.tables import ApiKey, User
from flowllama.db.types import utcnow
from flowllama.errors import Conflict
from flowllama.services import auth
from flowllama.services.users import get_user, normalise_email


def list_page(session: Session, limit: int, offset: int, email: str | None = None
              ) -> tuple[list[User], int]:
    """Accounts, oldest first (optionally the one with ``email``), and how many match."""
    query = select(User)
    if email is not None:
        query = query.where(User.email == normalise_email(email))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(User.created_at, User.id).limit(limit).offset(offset))
    return list(rows.all()), total


def disable(session: Session, admin: User, user_id: str) -> tuple[User, list[str]]:
    """Disable ``user_id``: no login, refresh or token works, its sessions end and its live
    API keys are revoked. The hashes of the revoked keys (for the gateway's caches)."""
    user = get_user(session, user_id)
    if user.id == admin.id:
        raise Conflict("You cannot disable your own account", field="user_id",
                       code="own_account")
    now = utcnow()
    user.disabled_at = user.disabled_at or now
    auth.revoke_all(session, user.id)
    hashes = list(session.scalars(select(ApiKey.key_hash).where(
        ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))).all())
    session.execute(update(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
                    .values(revoked_at=now))
    return user, hashes


def enable(session: Session, user_id: str) -> User:
    """Let a disabled account log in again (its revoked keys stay revoked)."""
    user = get_user(session, user_id)
    user.disabled_at = None
    return user


def promote(session: Session, user_id: str) -> User:
    """Make ``user_id`` an administrator (idempotent)."""
    user = get_user(session, user_id)
    user.is_admin = True
    return user
