"""Per-deployment leases: a lock token with an expiry on the row, so two agents never act on
one deployment and a dead agent's lease runs out by itself.

Acquire, renew and release are single conditional UPDATEs, atomic on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update

from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.db.types import new_id, utcnow


def acquire(db: Database, deployment_id: str, lease_s: float) -> str | None:
    """A fresh lease token, or ``None`` while another live lease holds the row."""
    token = new_id()
    now = utcnow()
    with db.session() as session:
        result = session.execute(
            update(Deployment)
            .where(
                Deployment.id == deployment_id,
                or_(Deployment.lease_token.is_(None), Deployment.lease_expires_at < now),
            )
            .values(lease_token=token, lease_expires_at=now + timedelta(seconds=lease_s))
        )
        taken = result.rowcount == 1  # type: ignore[attr-defined]
    return token if taken else None


def renew(db: Database, deployment_id: str, token: str, lease_s: float) -> bool:
    """Extend the lease; ``False`` means it was lost (expired and taken by someone else)."""
    with db.session() as session:
        result = session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id, Deployment.lease_token == token)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        )
        return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def release(db: Database, deployment_id: str, token: str) -> None:
    with db.session() as session:
        session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id, Deployment.lease_token == token)
            .values(lease_token=None, lease_expires_at=None)
        )
