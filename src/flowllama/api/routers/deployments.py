"""``/api/deployments``: create, list, read, act on and delete the caller's deployments.

Handlers record what the user wants and nudge the agent; they never provision anything.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from flowllama.api.deps import CurrentUser, DbSession, DeploymentViewer, PlatformDep
from flowllama.domain.deployments import (
    DeploymentChange,
    DeploymentCreate,
    DeploymentLogs,
    DeploymentOut,
    DeploymentPage,
    EventOut,
)
from flowllama.services import deployment_changes, deployments
from flowllama.services.deployment_estimates import DeploymentEstimator, configured_clouds

router = APIRouter(prefix="/api/deployments", tags=["deployments"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def create_deployment(body: DeploymentCreate, *, user: CurrentUser, db: DbSession,
                      platform: PlatformDep, viewer: DeploymentViewer,
                      idempotency_key: IdempotencyKey = None) -> DeploymentOut:
    estimator = DeploymentEstimator(platform.catalog, platform.local_check,
                                    configured_clouds(platform.settings.clouds))
    created = deployments.create(db, user, body, estimator, idempotency_key,
                                 quota=platform.settings.quotas)
    if created.new:
        deployments.commit_and_nudge(db, platform.queue, created.deployment)
    return viewer.view(db, created.deployment)


@router.get("")
def list_deployments(user: CurrentUser, db: DbSession, viewer: DeploymentViewer,
                     limit: Limit = 50, offset: Offset = 0) -> DeploymentPage:
    rows, total = deployments.list_page(db, user, limit, offset)
    return DeploymentPage(items=[viewer.view(db, row) for row in rows], total=total,
                          limit=limit, offset=offset)


@router.get("/{deployment_id}")
def get_deployment(deployment_id: str, user: CurrentUser, db: DbSession,
                   viewer: DeploymentViewer) -> DeploymentOut:
    return viewer.view(db, deployments.get(db, user, deployment_id))


@router.patch("/{deployment_id}", status_code=status.HTTP_202_ACCEPTED)
def change_deployment(deployment_id: str, body: DeploymentChange, *, user: CurrentUser,
                      db: DbSession, platform: PlatformDep, viewer: DeploymentViewer,
                      response: Response) -> DeploymentOut:
    """Change the spec, replicas or autopilot settings; the agent rolls new servers in
    blue/green when the spec changed. 200 when the request changes nothing."""
    estimator = DeploymentEstimator(platform.catalog, platform.local_check,
                                    configured_clouds(platform.settings.clouds))
    changed = deployment_changes.change(
        db, user, deployment_id, body, estimator,
        min_idle_timeout_s=platform.settings.autopilot.min_idle_timeout_s,
        quota=platform.settings.quotas)
    if changed.changes.any:
        deployments.commit_and_nudge(db, platform.queue, changed.deployment)
    else:
        response.status_code = status.HTTP_200_OK
    return viewer.view(db, changed.deployment)


@router.get("/{deployment_id}/events")
def list_events(deployment_id: str, *, user: CurrentUser, db: DbSession,
                viewer: DeploymentViewer, limit: Limit = 200, offset: Offset = 0
                ) -> list[EventOut]:
    rows = deployments.events(db, user, deployment_id, limit, offset)
    return [viewer.event(row) for row in rows]


@router.get("/{deployment_id}/logs")
def get_logs(deployment_id: str, user: CurrentUser, db: DbSession, platform: PlatformDep,
             tail: Annotated[int, Query(ge=1, le=5000)] = 100) -> DeploymentLogs:
    deployment = deployments.get(db, user, deployment_id)
    return deployments.logs(deployment, platform.local_logs, tail)


@router.post("/{deployment_id}/{action}", status_code=status.HTTP_202_ACCEPTED)
def act(deployment_id: str, action: Literal["stop", "start", "restart"], *, user: CurrentUser,
        db: DbSession, platform: PlatformDep, viewer: DeploymentViewer) -> DeploymentOut:
    deployment = deployments.request_action(db, user, deployment_id, action)
    deployments.commit_and_nudge(db, platform.queue, deployment)
    return viewer.view(db, deployment)


@router.delete("/{deployment_id}", status_code=status.HTTP_202_ACCEPTED)
def delete_deployment(deployment_id: str, user: CurrentUser, db: DbSession,
                      platform: PlatformDep, viewer: DeploymentViewer) -> DeploymentOut:
    deployment = deployments.request_delete(db, user, deployment_id)
    deployments.commit_and_nudge(db, platform.queue, deployment)
    return viewer.view(db, deployment)
