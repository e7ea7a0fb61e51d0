"""Webhooks: register (the signing secret is shown once), list, delete, rotate the secret,
read the delivery log.

Owner-scoped everywhere: another user's webhook is a 404. Every delivery is signed with the
secret, so it cannot be hashed: it is stored encrypted (``secrets.py``), returned by the create
and rotate calls only, and never logged (``WebhookOut`` has no field for it).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowllama.db.tables import User, Webhook, WebhookDelivery
from flowllama.db.types import utcnow
from flowllama.domain.webhooks import DeliveryOut, WebhookCreate
from flowllama.errors import Conflict, NotFound
from flowllama.webhooks.secrets import SecretBox
from flowllama.webhooks.signing import new_secret
from flowllama.webhooks.ssrf import UrlPolicy

# Enough for any real integration; a cap keeps one tenant from fanning out without bound.
MAX_WEBHOOKS_PER_USER = 25
FINAL_STATUSES = frozenset({"delivered", "failed"})


def create(session: Session, user: User, body: WebhookCreate, policy: UrlPolicy,
           box: SecretBox) -> tuple[Webhook, str]:
    """Check the URL against the SSRF rules, store the webhook; returns it and its secret."""
    policy.check(body.url)
    count = session.scalar(select(func.count()).select_from(Webhook)
                           .where(Webhook.user_id == user.id)) or 0
    if count >= MAX_WEBHOOKS_PER_USER:
        raise Conflict(f"At most {MAX_WEBHOOKS_PER_USER} webhooks per account; delete one "
                       "first", code="too_many_webhooks")
    secret = new_secret()
    row = Webhook(user_id=user.id, url=body.url.strip(),
                  events=[event.value for event in body.events], secret=box.seal(secret))
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


def rotate_secret(session: Session, user: User, webhook_id: str, box: SecretBox,
                  overlap_s: int) -> tuple[Webhook, str]:
    """Give the webhook a new secret; the current one keeps signing (next to the new one)
    for ``overlap_s`` seconds so receivers can switch without losing deliveries. Returns the
    row and the new secret in clear."""
    row = get(session, user, webhook_id)
    secret = new_secret()
    if overlap_s > 0:
        row.previous_secret = row.secret
        row.previous_secret_expires_at = utcnow() + timedelta(seconds=overlap_s)
    else:
        row.previous_secret = row.previous_secret_expires_at = None
    row.secret = box.seal(secret)
    session.flush()
    return row, secret


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
