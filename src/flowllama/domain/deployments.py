"""Request and response bodies of the deployments API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowllama.domain.accounts import Strict

NAME_PATTERN = r"^[a-z0-9-]{1,63}$"
GpuChoice = Literal["auto", "none", "T4", "L4", "A10G", "L40S", "V100", "A100", "A100-80GB", "H100"]


class DeploymentCreate(Strict):
    """What a user asks for. Model and constraints are checked against the catalog and the
    optimizer before anything is queued."""

    name: str = Field(pattern=NAME_PATTERN, description="1 to 63 characters of a-z, 0-9 and '-'")
    model: str = Field(min_length=1, max_length=200)
    context_size: int | None = Field(
        None, ge=256, le=1_048_576,
        description="Tokens of context; default: the model's own (4,096 capped at its maximum)")
    parallel: int = Field(1, ge=1, le=64)
    spot_tolerance: Literal["none", "low", "high"] = "none"
    gpu: GpuChoice = "auto"
    allow_cpu: bool = Field(
        True, description="With gpu 'auto', let CPU-only instances compete for small models")
    cloud: Literal["auto", "aws", "gcp", "local"] = "auto"
    region: str | None = Field(None, pattern=r"^[a-z0-9-]{2,64}$")
    instance_type: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.\-]{1,63}$")
    runtime: Literal["auto", "ollama", "llamacpp"] = "auto"


class InstanceOut(BaseModel):
    """One server of a deployment. ``endpoint_url`` (the runtime's own address) is shown to
    operators only: users reach the model through the gateway."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    provider: str
    cloud: str | None
    region: str | None
    zone: str | None
    instance_type: str | None
    spot: bool
    endpoint_url: str | None
    price_per_hour: float | None
    status: str
    last_check_at: datetime | None
    last_latency_ms: float | None
    last_error: str | None
    created_at: datetime
    terminated_at: datetime | None
    # The cloud's own id of the server (e.g. ``i-0abc...``) and its addresses, when known.
    server_id: str | None = None
    private_ip: str | None = None
    public_ip: str | None = None


class PlacementOut(BaseModel):
    """Where the deployment runs now and what it is billed: the live instance's placement."""

    cloud: str | None
    region: str | None
    zone: str | None
    instance_type: str | None
    spot: bool
    price_per_hour: float | None


class DeploymentOut(BaseModel):
    id: str
    name: str
    model: str
    runtime: str
    context_size: int
    parallel: int
    spot_tolerance: str
    gpu: str
    cloud: str
    region: str | None
    instance_type: str | None
    desired_state: str
    status: str
    status_message: str | None
    endpoint_url: str = Field(description="The gateway's OpenAI-compatible base URL (`/v1`); "
                              "call it with an API key and `model` set to `endpoint_model`")
    endpoint_model: str = Field(description="The `model` to send to `endpoint_url`: the "
                                "deployment's name")
    price_per_hour: float | None
    placement: PlacementOut | None = None
    cost_so_far_usd: float
    estimate: dict[str, Any] | None
    instances: list[InstanceOut]
    created_at: datetime
    updated_at: datetime


class DeploymentPage(BaseModel):
    items: list[DeploymentOut]
    total: int
    limit: int
    offset: int


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    from_status: str | None
    to_status: str
    reason: str
    data: dict[str, Any] | None


class DeploymentLogs(BaseModel):
    """The last lines of a deployment's server log, oldest first."""

    deployment_id: str
    lines: list[str]
    source: Literal["local", "none"]
    message: str | None = None
