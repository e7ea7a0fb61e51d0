"""Webhooks: register (the signing secret is shown once), list, delete, read the delivery log.

Owner-scoped everywhere: another user's webhook is a 404. The secret must be stored in clear
because every delivery is signed with it; it is returned by the create call only and never
logged (``WebhookOut`` has no field for it).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowllama.db.tables import User, Webhook, WebhookDelivery
from flowllama.domain.webhooks import DeliveryOut, WebhookCreate
from flowllama.errors import Conflict, NotFound
from flowllama.security.tokens import new_secret
from flowllama.webhooks.ssrf import UrlPolicy

SECRET_PREFIX = "whsec_"  # noqa: S105 (a public prefix, not a secret)
SECRET_BYTES = 32
# Enough for any real integration; a cap keeps one tenant from fanning out without bound.
MAX_WEBHOOKS_PER_USER = 25
FINAL_STATUSES = frozenset({"delivered", "failed"})


def create(session: Session, user: User, body: WebhookCreate, policy: UrlPolicy
           ) -> tuple[Webhook, str]:
    """Check the URL against the SSRF rules, store the webhook; returns it and its secret."""
    policy.check(body.url)
    count = session.scalar(select(func.count()).select_from(Webhook)
                           .where(Webhook.user_id == user.id)) or 0
    if count >= MAX_WEBHOOKS_PER_USER:
        raise Conflict(f"At most {MAX_WEBHOOKS_PER_USER} webhooks per account; delete one "
                       "first", code="too_many_webhooks")
    secret = new_secret(SECRET_PREFIX, SECRET_BYTES)
    row = Webhook(user_id=user.id, url=body.url.strip(),
                  events=[event.value for event in body.events], secret=secret)
    session.add(row)
    session.flush()
    return row, secret


def list_for(session: Session, user: User) -> list[Webhook]:
    """The user's webhooks, newest first."""
    return list(session.scalars(
        select(Webhook).where(Webhook.user_id == user.id)
        .order_by(Webhook.created_at.desc(), Webhook.id)
    ).all())


def get(session: Session, user: User, webhook_id: str) -> Webhook:
    """The user's webhook; anyone else's or an unknown one is a 404."""
    row = session.scalar(select(Webhook).where(Webhook.id == webhook_id,
                                               Webhook.user_id == user.id))
    if row is None:
        raise NotFound("Webhook not found", field="id")
    return row


def delete(session: Session, user: User, webhook_id: str) -> None:
    """Delete the user's webhook and its delivery log (pending deliveries are dropped)."""
    session.delete(get(session, user, webhook_id))


def deliveries(session: Session, user: User, webhook_id: str, limit: int, offset: int
               ) -> tuple[list[WebhookDelivery], int]:
    """One page of the webhook's delivery log, newest first, and the total count."""
    webhook = get(session, user, webhook_id)
    mine = WebhookDelivery.webhook_id == webhook.id
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(mine)) or 0
    rows = session.scalars(
        select(WebhookDelivery).where(mine)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit).offset(offset)
    ).all()
    return list(rows), total


def view(row: WebhookDelivery) -> DeliveryOut:
    """A delivery as its owner sees it (no next attempt once it is delivered or failed)."""
    out = DeliveryOut.model_validate(row)
    if row.status in FINAL_STATUSES:
        out.next_attempt_at = None
    return out
