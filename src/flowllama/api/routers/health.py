"""``/health`` (liveness) and ``/ready`` (database reachable and every background loop of this
process alive and succeeding), on every role."""

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
    database = platform.db.ping()
    loops = platform.loops.problems()
    if database and not loops:
        return JSONResponse({"status": "ready", "database": "ok"})
    if not database:
        message = "Database is not reachable"
    else:
        message = "Background loop not healthy: " + ", ".join(sorted(loops))
    return JSONResponse(
        {"error": {"code": "not_ready", "message": message, "loops": loops}},
        status_code=503, headers={"Retry-After": "5"},
    )
