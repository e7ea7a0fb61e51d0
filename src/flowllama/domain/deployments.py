"""Request and response bodies of the deployments API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowllama.domain.accounts import Strict
from flowllama.domain.recommendations import RecommendationOut

NAME_PATTERN = r"^[a-z0-9-]{1,63}$"
MAX_REPLICAS = 16
# An idle timeout shorter than a minute would put a deployment to sleep between two requests
# of a normal conversation; longer than 30 days is the same as never.
# The operator's floor (FLOWLLAMA_AUTOPILOT__MIN_IDLE_TIMEOUT_S, default 60 s) is checked by
# the service; the body only refuses what no setting allows.
IDLE_TIMEOUT_MIN_S = 1
IDLE_TIMEOUT_MAX_S = 30 * 24 * 3600
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


class ReplicasIn(Strict):
    """How many servers a deployment runs: the load-based scaler keeps it between the two."""

    min: int = Field(ge=1, le=MAX_REPLICAS)
    max: int = Field(ge=1, le=MAX_REPLICAS)


class DeploymentChange(Strict):
    """A ``PATCH`` of a deployment: every field optional, only the fields sent change.

    ``region``, ``instance_type`` and ``idle_timeout_s`` may be sent as ``null`` to clear them
    (any region, any instance type, never sleep). Checked against the catalog and the
    optimizer before anything is written.
    """

    model: str | None = Field(None, min_length=1, max_length=200)
    context_size: int | None = Field(None, ge=256, le=1_048_576)
    parallel: int | None = Field(None, ge=1, le=64)
    spot_tolerance: Literal["none", "low", "high"] | None = None
    gpu: GpuChoice | None = None
    cloud: Literal["auto", "aws", "gcp", "local"] | None = None
    region: str | None = Field(None, pattern=r"^[a-z0-9-]{2,64}$")
    instance_type: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.\-]{1,63}$")
    runtime: Literal["auto", "ollama", "llamacpp"] | None = None
    replicas: ReplicasIn | None = None
    idle_timeout_s: int | None = Field(
        None, ge=IDLE_TIMEOUT_MIN_S, le=IDLE_TIMEOUT_MAX_S,
        description="Seconds without a request before the deployment sleeps (at least "
        f"the platform's minimum, 60 by default, and at most {IDLE_TIMEOUT_MAX_S}); null: never")
    auto_move: bool | None = None


class ReplicasOut(BaseModel):
    """The replica bounds, the count the deployment converges to now, and the healthy
    servers of its current generation."""

    min: int
    max: int
    desired: int
    running: int


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
    slot: str = ""
    generation: int = 0
    draining_since: datetime | None = None
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
    generation: int = Field(0, description="Bumped by every change that needs new servers")
    replicas: ReplicasOut
    idle_timeout_s: int | None = None
    auto_move: bool = False
    wake_count: int = 0
    asleep_hours: float = Field(0.0, description="Hours asleep in all, the current sleep "
                                "included")
    saved_usd: float = Field(0.0, description="Asleep hours times the $/h it ran at before")
    rollout_error: str | None = Field(None, description="Why the last change could not be "
                                      "rolled out (the previous servers kept serving)")
    recommendation: RecommendationOut | None = Field(
        None, description="The advisor's open recommendation of a cheaper placement")


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
