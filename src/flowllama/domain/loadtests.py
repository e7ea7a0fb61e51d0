"""Request and response bodies of the load-test API (``/api/deployments/{id}/loadtests``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flowllama.domain.accounts import Strict


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


class LoadtestRequest(Strict):
    """Run a load test now. Omitted figures take the configured defaults; the configured
    maxima (``FLOWLLAMA_LOADTEST__MAX_DURATION_S``, ``__MAX_USERS``) bound them (422)."""

    duration_s: int | None = Field(None, ge=1)
    users: int | None = Field(None, ge=1)


class LoadtestRunOut(BaseModel):
    """One run as its owner sees it; ``files`` lists the raw files once it succeeded."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    deployment_id: str
    trigger: str
    status: str
    duration_s: int
    users: int
    target: str | None
    run_id: str | None
    totals: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class LoadtestRunDetail(LoadtestRunOut):
    """A run with its ``summary.json`` (schema version 1; null until it succeeded)."""

    summary: dict[str, Any] | None = None
    files: list[str] = Field(default_factory=list)


class LoadtestRunPage(BaseModel):
    items: list[LoadtestRunOut]
    total: int
    limit: int
    offset: int


class ScheduleIn(Strict):
    """A deployment's recurring load test; ``interval_s`` is bounded by the configured
    ``schedule_min_interval_s``/``schedule_max_interval_s`` (422 outside)."""

    enabled: bool
    interval_s: int = Field(3600, ge=1)
    duration_s: int | None = Field(None, ge=1)
    users: int | None = Field(None, ge=1)


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    deployment_id: str
    enabled: bool
    interval_s: int
    duration_s: int
    users: int
    next_run_at: datetime | None


class DashboardFragment(BaseModel):
    """The dashboard of one deployment as HTML (escaped, inline SVG, no script or style
    attribute), which the web UI places in its page."""

    html: str
    runs: int
