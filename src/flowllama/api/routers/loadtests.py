"""``/api/deployments/{id}/loadtests``: run a load test now, list and read the runs, their
raw files and dashboard, and the deployment's schedule. Owner only; others get a 404.

Included before the deployments router: its ``POST /{id}/{action}`` would take ``loadtests``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse, Response

from flowllama.api.deps import CurrentUser, DbSession, PlatformDep
from flowllama.domain.loadtests import (
    DashboardFragment,
    LoadtestRequest,
    LoadtestRunDetail,
    LoadtestRunOut,
    LoadtestRunPage,
    ScheduleIn,
    ScheduleOut,
)
from flowllama.loadtest.dashboard.app import raw_response
from flowllama.loadtest.dashboard.source import media_type
from flowllama.services import loadtests
from flowllama.services.loadtest_results import LoadtestResults

router = APIRouter(prefix="/api/deployments/{deployment_id}", tags=["loadtests"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Runs = Annotated[int | None, Query(ge=2, le=1000)]


@router.post("/loadtests", status_code=status.HTTP_202_ACCEPTED)
def start_loadtest(deployment_id: str, body: LoadtestRequest, user: CurrentUser,
                   db: DbSession, platform: PlatformDep) -> LoadtestRunOut:
    row = loadtests.start(db, user, deployment_id, body, platform.settings.loadtest)
    return LoadtestRunOut.model_validate(row)


@router.get("/loadtests")
def list_loadtests(deployment_id: str, user: CurrentUser, db: DbSession, limit: Limit = 50,
                   offset: Offset = 0) -> LoadtestRunPage:
    rows, total = loadtests.list_page(db, user, deployment_id, limit, offset)
    return LoadtestRunPage(items=[LoadtestRunOut.model_validate(r) for r in rows],
                           total=total, limit=limit, offset=offset)


@router.get("/loadtests/dashboard")
def loadtest_dashboard(deployment_id: str, user: CurrentUser, db: DbSession,
                       platform: PlatformDep, runs: Runs = None) -> DashboardFragment:
    results = LoadtestResults.of(platform.settings)
    rows = loadtests.succeeded(db, user, deployment_id,
                               runs or platform.settings.loadtest.dashboard_runs)
    return results.dashboard(deployment_id, rows)


@router.get("/loadtests/{run}")
def get_loadtest(deployment_id: str, run: str, user: CurrentUser, db: DbSession,
                 platform: PlatformDep) -> LoadtestRunDetail:
    row = loadtests.get_run(db, user, deployment_id, run)
    return LoadtestResults.of(platform.settings).detail(row)


@router.get("/loadtests/{run}/files/{name}")
def get_loadtest_file(deployment_id: str, run: str, name: str, *, user: CurrentUser,
                      db: DbSession, platform: PlatformDep) -> Response:
    """The raw file as a download; from an S3 store, ``{"url": presigned URL}``."""
    row = loadtests.get_run(db, user, deployment_id, run)
    data = LoadtestResults.of(platform.settings).raw_file(row, name)
    if isinstance(data, str):
        return JSONResponse({"url": data})
    return raw_response(data, f"{row.run_id}-{name}", media_type(name))


@router.get("/loadtest-schedule")
def get_schedule(deployment_id: str, user: CurrentUser, db: DbSession,
                 platform: PlatformDep) -> ScheduleOut:
    row = loadtests.get_schedule(db, user, deployment_id, platform.settings.loadtest)
    return ScheduleOut.model_validate(row)


@router.put("/loadtest-schedule")
def put_schedule(deployment_id: str, body: ScheduleIn, user: CurrentUser, db: DbSession,
                 platform: PlatformDep) -> ScheduleOut:
    row = loadtests.put_schedule(db, user, deployment_id, body, platform.settings.loadtest)
    return ScheduleOut.model_validate(row)
