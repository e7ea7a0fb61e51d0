"""``/health`` (liveness) and ``/ready`` (database reachable), on every role."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from flowllama import __version__
from flowllama.api.deps import PlatformDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict[str, object]:
    return {"status": "ok", "roles": request.app.state.roles, "version": __version__}


@router.get("/ready", response_model=None)
def ready(platform: PlatformDep) -> JSONResponse:
    if platform.db.ping():
        return JSONResponse({"status": "ready", "database": "ok"})
    return JSONResponse(
        {"error": {"code": "not_ready", "message": "Database is not reachable"}},
        status_code=503,
    )
