"""Response bodies of the admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class DeadJobOut(BaseModel):
    """A job that ran out of attempts, with the error of its last one."""

    id: str
    user_id: str
    kind: str
    payload: dict[str, Any]
    deployment_id: str | None
    attempts: int
    last_error: str | None
    failed_at: datetime | None


class RequeuedOut(BaseModel):
    id: str
    status: str


class AdminUserOut(BaseModel):
    """An account as an administrator sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    is_admin: bool
    tier: str
    created_at: datetime
    disabled_at: datetime | None


class AdminUserPage(BaseModel):
    items: list[AdminUserOut]
    total: int
    limit: int
    offset: int
