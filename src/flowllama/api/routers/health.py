"""``/health`` (liveness) and ``/ready`` (database reachable and every background loop of this
process alive and succeeding, see ``loops/readiness.py``), on every role."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from flowllama import __version__
from flowllama.api.deps import PlatformDep
from flowllama.loops.readiness import RETRY_AFTER_S, readiness

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict[str, object]:
    return {"status": "ok", "roles": request.app.state.roles, "version": __version__}


@router.get("/ready", response_model=None)
def ready(platform: PlatformDep) -> JSONResponse:
    # Public (the api and gateway face the internet): error classes, never their text.
    status, body = readiness(platform.db, platform.loops, detail=False)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status != 200 else None
    return JSONResponse(body, status_code=status, headers=headers)
