"""What the API shows of the cheaper-placement advisor's recommendations
(``docs/autopilot.md``): a cheaper feasible placement for a running deployment, its saving,
and what the owner decided."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

RecommendationStatus = Literal["open", "accepted", "dismissed", "superseded"]


class RecommendationOut(BaseModel):
    """One recommendation: ``placement`` is the offer to move to (cloud, region, zone,
    instance type, spot, $/h); savings are against the deployment's $/h when it was made."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: RecommendationStatus
    placement: dict[str, Any]
    current_price_per_hour: float
    new_price_per_hour: float
    monthly_saving_usd: float
    saving_percent: float
    created_at: datetime
    decided_at: datetime | None
