"""Query parameters of ``GET /api/pricing/estimate`` (lists are comma-separated strings)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


class EstimateQuery(BaseModel):
    model: str = Field(min_length=1, max_length=200)
    context_size: int | None = None
    parallel: int = 1
    spot_tolerance: str = Field("none", max_length=8)
    gpu: str = Field("auto", max_length=32)
    clouds: str | None = Field(None, max_length=64, description="Comma-separated: aws,gcp")
    regions: str | None = Field(None, max_length=2000, description="Comma-separated regions")
    instance_type: str | None = Field(None, max_length=64)
    quantization: str | None = Field(None, max_length=16)
    kv_cache_type: str = Field("f16", max_length=8)
    allow_cpu: bool = Field(True, description="With gpu=auto, CPU-only instances compete "
                            "for small models")

    def as_request_data(self) -> dict[str, Any]:
        """The optimizer request's fields (validated there, with the field named on error)."""
        data = self.model_dump(exclude={"clouds", "regions"})
        if (clouds := _split(self.clouds)) is not None:
            data["clouds"] = clouds
        data["regions"] = _split(self.regions)
        return data
