"""``/api/webhooks``: register (the secret is shown once), list and delete the caller's
webhooks, rotate a webhook's secret, and read each one's delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from flowllama.api.deps import CurrentUser, DbSession, PlatformDep
from flowllama.domain.webhooks import (
    DeliveryPage,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)
from flowllama.services import quotas
from flowllama.webhooks import registry
from flowllama.webhooks.secrets import SecretBox
from flowllama.webhooks.ssrf import url_policy

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookCreate, user: CurrentUser, db: DbSession,
                   platform: PlatformDep) -> WebhookCreated:
    quotas.reserve(db, user, platform.settings.quotas, "webhooks")
    row, secret = registry.create(db, user, body, url_policy(platform.settings.webhooks),
                                  SecretBox.from_settings(platform.settings))
    return WebhookCreated.model_validate({**WebhookOut.model_validate(row).model_dump(),
                                          "secret": secret})


@router.post("/{webhook_id}/rotate-secret")
def rotate_secret(webhook_id: str, user: CurrentUser, db: DbSession,
                  platform: PlatformDep) -> SecretRotated:
    settings = platform.settings
    row, secret = registry.rotate_secret(db, user, webhook_id, SecretBox.from_settings(settings),
                                         settings.webhooks.rotation_overlap_s)
    return SecretRotated.model_validate({
        **WebhookOut.model_validate(row).model_dump(), "secret": secret,
        "previous_secret_expires_at": row.previous_secret_expires_at})


@router.get("")
def list_webhooks(user: CurrentUser, db: DbSession) -> list[WebhookOut]:
    return [WebhookOut.model_validate(row) for row in registry.list_for(db, user)]


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, user: CurrentUser, db: DbSession) -> None:
    registry.delete(db, user, webhook_id)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(webhook_id: str, user: CurrentUser, db: DbSession, limit: Limit = 50,
                    offset: Offset = 0) -> DeliveryPage:
    rows, total = registry.deliveries(db, user, webhook_id, limit, offset)
    return DeliveryPage(items=[registry.view(row) for row in rows], total=total, limit=limit,
                        offset=offset)
