"""Per-account caps by tier: live deployments, GPU deployments, API keys and webhooks.

A deployment counts from its creation until it is asked to be deleted; an API key until it is
revoked.

A check and the insert it guards must be one atomic step, or N parallel creates all see
"one left". :func:`reserve` therefore locks the owner's ``users`` row (``SELECT … FOR UPDATE``
on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already makes each write transaction exclusive)
before counting, in the transaction that then inserts: a concurrent create for the same
account waits for the commit and counts the new row. Other accounts never wait.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flowllama.db.tables import ApiKey, Deployment, User, Webhook
from flowllama.errors import QuotaExceeded
from flowllama.settings import QuotaSettings, TierQuota

Resource = Literal["deployments", "gpu_instances", "api_keys", "webhooks"]
_NAMES = {"deployments": "deployments", "gpu_instances": "GPU deployments",
          "api_keys": "API keys", "webhooks": "webhooks"}


def uses_gpu(estimate: dict[str, Any] | None) -> bool:
    """Whether a deployment's chosen offer has a GPU (what ``gpu_instances`` counts)."""
    offer = (estimate or {}).get("recommended") or {}
    return bool(offer.get("gpu_count"))


def _wanted(user: User) -> tuple[ColumnElement[bool], ...]:
    """Deployments the user still wants: one being deleted is on its way out."""
    return (Deployment.user_id == user.id, Deployment.deleted_at.is_(None),
            Deployment.desired_state != "deleted")


def _count(session: Session, user: User, resource: Resource) -> int:
    if resource == "api_keys":
        query = select(func.count()).select_from(ApiKey).where(
            ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    elif resource == "webhooks":
        query = select(func.count()).select_from(Webhook).where(Webhook.user_id == user.id)
    elif resource == "deployments":
        query = select(func.count()).select_from(Deployment).where(*_wanted(user))
    else:  # bounded by the deployments cap, so counting in Python is cheap and portable
        estimates = session.scalars(select(Deployment.estimate).where(*_wanted(user))).all()
        return sum(1 for estimate in estimates if uses_gpu(estimate))
    return int(session.scalar(query) or 0)


def _lock_owner(session: Session, user: User) -> None:
    session.execute(select(User.id).where(User.id == user.id).with_for_update())


def reserve(session: Session, user: User, quotas: QuotaSettings | TierQuota,
            *resources: Resource) -> None:
    """Lock the account and raise ``QuotaExceeded`` if one more of any of ``resources`` would
    pass its tier's cap. Call it in the transaction that inserts, before the insert."""
    tier = quotas.for_tier(user.tier) if isinstance(quotas, QuotaSettings) else quotas
    capped = [(r, getattr(tier, r)) for r in resources if getattr(tier, r) is not None]
    if not capped:
        return
    _lock_owner(session, user)
    for resource, cap in capped:
        if _count(session, user, resource) >= cap:
            raise QuotaExceeded(
                f"Your plan ({user.tier}) allows at most {cap} {_NAMES[resource]}; delete one "
                "or upgrade to create another", field=resource)
