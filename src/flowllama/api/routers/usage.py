"""``/api/usage``: the caller's token usage and its cost, by key, deployment or day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from flowllama.api.deps import CurrentUser, DbSession
from flowllama.domain.usage import UsageQuery, UsageReport
from flowllama.services import usage

router = APIRouter(prefix="/api/usage", tags=["usage"])


@router.get("", response_model_by_alias=True)
def get_usage(user: CurrentUser, db: DbSession, query: Annotated[UsageQuery, Query()]
              ) -> UsageReport:
    return usage.report(db, user, query)
