"""``/api/admin``: operator actions. Every route needs an administrator."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from flowllama.api.deps import AdminUser, DbSession, DeploymentViewer, PlatformDep
from flowllama.domain.admin import AdminUserOut, AdminUserPage, DeadJobOut, RequeuedOut
from flowllama.domain.external import ExternalDeploymentOut, ExternalDeploymentRegister
from flowllama.services import deployments, external_servers, user_admin
from flowllama.services.users import get_user

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
@router.get("/users")
def list_users(_admin: AdminUser, db: DbSession,
               limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
               email: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
               ) -> AdminUserPage:
    rows, total = user_admin.list_page(db, limit, offset, email)
    return AdminUserPage(items=[AdminUserOut.model_validate(row) for row in rows],
                         total=total, limit=limit, offset=offset)


@router.get("/users/{user_id}")
def get_one_user(user_id: str, _admin: AdminUser, db: DbSession) -> AdminUserOut:
    return AdminUserOut.model_validate(get_user(db, user_id))


@router.post("/users/{user_id}/disable")
def disable_user(user_id: str, admin: AdminUser, db: DbSession, platform: PlatformDep
                 ) -> AdminUserOut:
    user, revoked_key_hashes = user_admin.disable(db, admin, user_id)
    db.commit()  # revoked for every process before this one's caches are told
    for key_hash in revoked_key_hashes:
        for listener in platform.key_revoked_listeners:
            listener(key_hash)
    return AdminUserOut.model_validate(user)


@router.post("/users/{user_id}/enable")
def enable_user(user_id: str, _admin: AdminUser, db: DbSession) -> AdminUserOut:
    return AdminUserOut.model_validate(user_admin.enable(db, user_id))


@router.post("/users/{user_id}/promote")
def promote_user(user_id: str, _admin: AdminUser, db: DbSession) -> AdminUserOut:
    return AdminUserOut.model_validate(user_admin.promote(db, user_id))
