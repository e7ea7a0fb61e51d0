"""``/api/models``: the model catalog (packaged models and local GGUF files)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from flowllama.api.deps import PlatformDep

router = APIRouter(prefix="/api/models", tags=["models"])


@router.get("")
def list_models(
    platform: PlatformDep,
    family: str | None = Query(None, max_length=64, pattern=r"^[a-z0-9.\-]+$"),
) -> dict[str, Any]:
    views = platform.catalog.views(family)
    return {
        "items": [view.to_json() for view in views],
        "families": platform.catalog.models().families(),
    }


@router.get("/{name:path}")
def get_model(name: str, platform: PlatformDep) -> dict[str, Any]:
    return platform.catalog.view(name).to_json()
