"""``/api/keys``: create (the key is shown once), list and revoke the caller's API keys."""

from __future__ import annotations

from fastapi import APIRouter, status

from flowllama.api.deps import CurrentUser, DbSession, PlatformDep
from flowllama.domain.keys import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from flowllama.services import api_keys, quotas

router = APIRouter(prefix="/api/keys", tags=["keys"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, user: CurrentUser, db: DbSession, platform: PlatformDep
               ) -> ApiKeyCreated:
    quotas.reserve(db, user, platform.settings.quotas, "api_keys")
    row, secret = api_keys.create(db, user, body)
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(row).model_dump(),
                                         "key": secret})


@router.get("")
def list_keys(user: CurrentUser, db: DbSession) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(row) for row in api_keys.list_live(db, user)]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(key_id: str, user: CurrentUser, db: DbSession, platform: PlatformDep) -> None:
    row = api_keys.revoke(db, user, key_id)
    db.commit()  # revoked for every process before this one's caches are told
    for listener in platform.key_revoked_listeners:
        listener(row.key_hash)
