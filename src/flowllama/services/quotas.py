"""Per-account caps by tier: live deployments, GPU servers, API keys and webhooks.

A deployment counts from its creation until it is asked to be deleted; an API key until it is
revoked. ``gpu_instances`` caps GPU *servers*, not deployments: a deployment that may run on a
GPU counts ``replicas_max`` servers (the autopilot's scaler never goes past it), whatever the
number of GPUs in each server; a stopped or sleeping one counts too, since it may start again
without asking. A deployment "may run on a GPU" when any offer the agent could place it on
has one: its estimate's candidates (the agent falls back through them) or an accepted move's
pin; a blue/green replacement overlaps its old servers briefly and is not counted twice.

A check and the write it guards must be one atomic step, or N parallel creates all see
"one left". :func:`reserve` and :func:`reserve_gpu_servers` therefore lock the owner's
``users`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
makes each write transaction exclusive) before counting, in the transaction that then
writes: a concurrent create or change for the same account waits for the commit and counts
the new row. Other accounts never wait.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flowllama.db.tables import ApiKey, Deployment, User, Webhook
from flowllama.errors import QuotaExceeded
from flowllama.settings import QuotaSettings, TierQuota

Counted = Literal["deployments", "api_keys", "webhooks"]
"""Resources of which one create adds one."""
_NAMES = {"deployments": "deployments", "api_keys": "API keys", "webhooks": "webhooks"}


def uses_gpu(estimate: dict[str, Any] | None, pin: dict[str, Any] | None = None) -> bool:
    """Whether any offer a deployment may be placed on has a GPU: the estimate's
    recommendation and candidates, or ``pin`` (an accepted move's placement)."""
    offers = [(estimate or {}).get("recommended"), *((estimate or {}).get("candidates") or []),
              pin]
    return any(isinstance(offer, dict) and offer.get("gpu_count") for offer in offers)


def gpu_servers(estimate: dict[str, Any] | None, pin: dict[str, Any] | None,
                replicas_max: int) -> int:
    """How many GPU servers a deployment may run at once (what ``gpu_instances`` counts)."""
    return max(0, replicas_max) if uses_gpu(estimate, pin) else 0


def _tier(user: User, quotas: QuotaSettings | TierQuota) -> TierQuota:
    return quotas.for_tier(user.tier) if isinstance(quotas, QuotaSettings) else quotas


def _wanted(user: User) -> tuple[ColumnElement[bool], ...]:
    """Deployments the user still wants: one being deleted is on its way out."""
    return (Deployment.user_id == user.id, Deployment.deleted_at.is_(None),
            Deployment.desired_state != "deleted")


def _count(session: Session, user: User, resource: Counted) -> int:
    if resource == "api_keys":
        query = select(func.count()).select_from(ApiKey).where(
            ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    elif resource == "webhooks":
        query = select(func.count()).select_from(Webhook).where(Webhook.user_id == user.id)
    else:
        query = select(func.count()).select_from(Deployment).where(*_wanted(user))
    return int(session.scalar(query) or 0)


def _gpu_servers_of(session: Session, user: User, *, besides: str | None) -> int:
    """The GPU servers of the user's live deployments, but ``besides`` (a deployment id).
    Bounded by the deployments cap, so summing in Python is cheap and portable (the offers
    are JSON)."""
    query = select(Deployment.estimate, Deployment.placement_pin, Deployment.replicas_max
                   ).where(*_wanted(user))
    if besides is not None:
        query = query.where(Deployment.id != besides)
    return sum(gpu_servers(estimate, pin, replicas_max or 1)
               for estimate, pin, replicas_max in session.execute(query).all())


def _lock_owner(session: Session, user: User) -> None:
    session.execute(select(User.id).where(User.id == user.id).with_for_update())


def reserve(session: Session, user: User, quotas: QuotaSettings | TierQuota,
            *resources: Counted) -> None:
    """Lock the account and raise ``QuotaExceeded`` (``field``: the resource) if one more of
    any of ``resources`` would pass its tier's cap. Call it in the transaction that inserts,
    before the insert."""
    tier = _tier(user, quotas)
    capped = [(r, getattr(tier, r)) for r in resources if getattr(tier, r) is not None]
    if not capped:
        return
    _lock_owner(session, user)
    for resource, cap in capped:
        if _count(session, user, resource) >= cap:
            raise QuotaExceeded(
                f"Your plan ({user.tier}) allows at most {cap} {_NAMES[resource]}; delete one "
                "or upgrade to create another", field=resource)


def reserve_gpu_servers(session: Session, user: User, quotas: QuotaSettings | TierQuota,
                        servers: int, *, deployment_id: str | None = None) -> None:
    """Lock the account and raise ``QuotaExceeded`` (``field``: ``gpu_instances``) if its GPU
    servers would pass the tier's cap with one deployment counted as ``servers``: a new one
    (``deployment_id`` None), or ``deployment_id`` as it is about to be changed (its current
    servers are left out of the sum). Call it in the transaction that writes, before the
    write; with ``servers`` 0 nothing is checked (a deployment without a GPU never is)."""
    cap = _tier(user, quotas).gpu_instances
    if cap is None or servers <= 0:
        return
    _lock_owner(session, user)
    total = _gpu_servers_of(session, user, besides=deployment_id) + servers
    if total > cap:
        raise QuotaExceeded(
            f"Your plan ({user.tier}) allows at most {cap} GPU servers (a GPU deployment "
            f"counts replicas.max of them); this would make {total}: lower replicas.max, "
            "delete a GPU deployment or upgrade", field="gpu_instances")
