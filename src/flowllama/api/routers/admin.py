"""``/api/admin``: operator actions. Every route needs an administrator."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from flowllama.api.deps import AdminUser, DbSession, DeploymentViewer, PlatformDep
from flowllama.domain.admin import DeadJobOut, RequeuedOut
from flowllama.domain.external import ExternalDeploymentOut, ExternalDeploymentRegister
from flowllama.services import deployments, external_servers

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


@router.post("/external-deployments", status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "An existing registration was updated (or was "
                                             "already identical)"}})
def register_external(body: ExternalDeploymentRegister, response: Response, *,
                      _admin: AdminUser, db: DbSession, platform: PlatformDep,
                      viewer: DeploymentViewer) -> ExternalDeploymentOut:
    """Register an inference server that already exists as a deployment of ``owner_email``
    (``cloud: external``); registering the same owner and name again updates it."""
    registered = external_servers.register(db, platform.upstream_secrets, body)
    if registered.new:  # an update rewrites the records in place: nothing for the agent to do
        deployments.commit_and_nudge(db, platform.queue, registered.deployment)
    else:
        response.status_code = status.HTTP_200_OK
    return external_servers.view(db, viewer, registered)
