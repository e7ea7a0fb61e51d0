"""``/api/admin``: operator actions. Every route needs an administrator."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from flowllama.api.deps import AdminUser, PlatformDep
from flowllama.domain.admin import DeadJobOut, RequeuedOut

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/dead-letters")
def dead_letters(_admin: AdminUser, platform: PlatformDep,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 user_id: Annotated[str | None, Query(max_length=64)] = None,
                 ) -> dict[str, Any]:
    jobs = platform.queue.list_dead(user_id=user_id, limit=limit)
    return {"items": [DeadJobOut.model_validate(job, from_attributes=True) for job in jobs]}


@router.post("/dead-letters/{job_id}/requeue", status_code=status.HTTP_202_ACCEPTED)
def requeue(job_id: str, _admin: AdminUser, platform: PlatformDep) -> RequeuedOut:
    job = platform.queue.requeue_dead(job_id)
    return RequeuedOut(id=job.id, status=job.status)
