"""What the cheaper-placement advisor shows its owner (``docs/autopilot.md``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RecommendationStatus = Literal["open", "accepted", "dismissed", "superseded"]


class RecommendationOut(BaseModel):
    """A cheaper feasible placement for a running deployment: where (``placement``: cloud,
    region, zone, instance_type, spot, price_per_hour, gpu, gpu_count), what one server costs
    there and now, and what the move saves a month over all replicas."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: RecommendationStatus
    placement: dict[str, Any]
    current_price_per_hour: float = Field(description="$/h of one server where it runs now")
    new_price_per_hour: float = Field(description="$/h of one server at the placement")
    monthly_saving_usd: float = Field(description="(current - new) x 730 h x replicas")
    saving_percent: float
    created_at: datetime
    decided_at: datetime | None
