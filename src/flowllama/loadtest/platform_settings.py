"""Settings of load tests run by the platform (``FLOWLLAMA_LOADTEST__*``) and of the dashboard.

Limits keep a user from turning the platform against itself: every run asked through the API
is bounded in duration and simulated users, one runs per deployment at a time, and the
executor runs at most one per agent process. A schedule is off until its owner turns it on,
and its interval is bounded below (a load test costs the owner tokens and the machine CPU).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from flowllama.loadtest.config import MAX_DURATION_S, MAX_USERS


class LoadtestSettings(BaseModel):
    """``results_url`` defaults to ``file://<data_dir>/loadtests`` (:func:`results_url`)."""

    results_url: str | None = None
    default_duration_s: int = Field(60, ge=5)
    max_duration_s: int = Field(300, ge=5, le=MAX_DURATION_S)
    default_users: int = Field(2, ge=1)
    max_users: int = Field(8, ge=1, le=MAX_USERS)
    schedule_min_interval_s: int = Field(3600, ge=60)
    schedule_max_interval_s: int = Field(7 * 86400, ge=60)
    # Base URL of the gateway the runs load (``/v1``, ``/ollama``); default: this process.
    gateway_url: str | None = None
    poll_s: float = Field(5.0, gt=0)
    # A run still "running" this long after its planned end was left by a dead process.
    grace_s: int = Field(120, ge=10)
    # Dashboard: how many runs a trend shows, and how much worse than the median of the
    # previous runs a figure must be to be flagged as a regression (0.2 = 20 %).
    dashboard_runs: int = Field(50, ge=2, le=1000)
    regression_margin: float = Field(0.2, ge=0, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> LoadtestSettings:
        if self.default_duration_s > self.max_duration_s:
            raise ValueError("default_duration_s must not exceed max_duration_s")
        if self.default_users > self.max_users:
            raise ValueError("default_users must not exceed max_users")
        if self.schedule_min_interval_s > self.schedule_max_interval_s:
            raise ValueError("schedule_min_interval_s must not exceed schedule_max_interval_s")
        return self


def results_url(loadtest: LoadtestSettings, data_dir: Path) -> str:
    """Where runs are stored: the configured URL, else ``file://<data_dir>/loadtests``."""
    return loadtest.results_url or f"file://{data_dir / 'loadtests'}"
