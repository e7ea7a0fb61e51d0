"""The provisioner contract's data types and the shared capability rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowllama.errors import ProviderError
from flowllama.providers import (
    Capabilities,
    Capability,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
    Unsupported,
)

SPEC = DeploymentSpec(deployment_id="d1", user_id="u1", name="n", model="m", context_size=2048)
GPU_BOX = Placement(cloud="aws", region="us-east-1", instance_type="g5.xlarge", gpu="A10G",
                    gpu_count=1)


class Minimal(Provisioner):
    """Declares only the abstract methods: what a new provider starts from."""

    kind = "minimal"

    def __init__(self, features: frozenset[Capability]) -> None:
        self._caps = Capabilities(clouds=frozenset({"aws"}), features=features)

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        self.check_capabilities(spec, placement)
        return Handle(self.kind, spec.deployment_id, f"fl-{spec.deployment_id}")

    def find(self, spec: DeploymentSpec) -> Handle | None:
        return None

    def refresh(self, handle: Handle) -> ResourceState:
        return ResourceState(exists=False)

    def destroy(self, handle: Handle) -> None:
        return None


def test_handle_round_trips_through_json() -> None:
    handle = Handle("terraform", "d1", "fl-d1", {"outputs": {"ip": "10.0.0.1"}, "n": [1, 2]})
    stored = json.loads(json.dumps(handle.to_dict()))
    assert Handle.from_dict(stored) == handle


@pytest.mark.parametrize("bad", [{"when": object()}, {"x": float("nan")}, {"s": {1, 2}}])
def test_handle_refuses_data_the_database_cannot_store(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="JSON"):
        Handle("terraform", "d1", "fl-d1", bad)


def test_placement_round_trips() -> None:
    assert Placement.from_dict(GPU_BOX.to_dict()) == GPU_BOX


def test_spec_and_placement_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Placement("aws", "us-east-1", None, "g5.xlarge")  # type: ignore[call-arg]


def test_capabilities_are_checked() -> None:
    full = Minimal(frozenset({Capability.GPU, Capability.SPOT}))
    full.check_capabilities(SPEC, GPU_BOX)

    with pytest.raises(Unsupported, match="cloud"):
        full.check_capabilities(SPEC, Placement(cloud="gcp", region="r", instance_type="t"))
    with pytest.raises(Unsupported, match="GPU"):
        Minimal(frozenset()).check_capabilities(SPEC, GPU_BOX)
    spot = Placement(cloud="aws", region="r", instance_type="t", spot=True)
    with pytest.raises(Unsupported, match="spot"):
        Minimal(frozenset()).check_capabilities(SPEC, spot)
    with pytest.raises(Unsupported, match="does not accept spot"):
        full.check_capabilities(SPEC, spot)
    full.check_capabilities(DeploymentSpec(**{**SPEC.__dict__, "spot": True}), spot)


def test_gpu_preference_must_match_the_placement() -> None:
    provisioner = Minimal(frozenset({Capability.GPU}))
    cpu_box = Placement(cloud="aws", region="r", instance_type="c7i.large")
    wants_l4 = DeploymentSpec(**{**SPEC.__dict__, "gpu": "L4"})
    no_gpu = DeploymentSpec(**{**SPEC.__dict__, "gpu": "none"})
    with pytest.raises(Unsupported, match="needs GPU"):
        provisioner.check_capabilities(wants_l4, cpu_box)
    with pytest.raises(Unsupported, match="no GPU"):
        provisioner.check_capabilities(no_gpu, GPU_BOX)
    provisioner.check_capabilities(no_gpu, cpu_box)


def test_unsupported_is_permanent() -> None:
    error = Unsupported("no such capability")
    assert isinstance(error, ProviderError)
    assert error.retryable is False
