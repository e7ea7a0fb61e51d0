"""Mapping Terraform failures to NoCapacity / ProvisioningFailed."""

from __future__ import annotations

import json

import pytest

from flowllama.errors import NoCapacity, ProvisioningFailed
from flowllama.providers.terraform.engine import EngineResult
from flowllama.providers.terraform.failures import (
    MAX_MESSAGE_CHARS,
    CommandFailed,
    capacity_code,
    error_text,
    to_provider_error,
)


@pytest.mark.parametrize(
    "text",
    [
        "api error InsufficientInstanceCapacity: We currently do not have sufficient p4d capacity",
        "Error 400: The zone 'projects/p/zones/us-central1-a' does not have enough resources "
        "available to fulfill the request. ZONE_RESOURCE_POOL_EXHAUSTED",
        "Error: googleapi: Error 403: Quota 'NVIDIA_L4_GPUS' exceeded.  Limit: 0.0 in region",
        "Error 403: QUOTA_EXCEEDED",
        "VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit",
        "MaxSpotInstanceCountExceeded: Max spot instance count exceeded",
        "Error: creating EC2 Spot Instance: capacity-not-available",
        "You have exceeded your quota for GPUs",
    ],
)
def test_capacity_and_quota_errors_are_no_capacity(text: str) -> None:
    assert capacity_code(text) is not None
    assert isinstance(to_provider_error(text), NoCapacity)


@pytest.mark.parametrize(
    "text",
    ["UnauthorizedOperation: You are not authorized", "InvalidAMIID.NotFound",
     "Error: Invalid function argument", "RequestLimitExceeded: Request limit exceeded"],
)
def test_other_errors_are_provisioning_failed(text: str) -> None:
    error = to_provider_error(text, prefix="apply failed: ")
    assert type(error) is ProvisioningFailed
    assert str(error) == f"apply failed: {text}"


def test_error_text_prefers_json_diagnostics() -> None:
    events = [
        {"@level": "info", "@message": "Apply started", "type": "apply_start"},
        {"@level": "error", "@message": "Error: boom", "type": "diagnostic",
         "diagnostic": {"severity": "error", "summary": "Resource precondition failed",
                        "detail": "the second resource refuses"}},
    ]
    stdout = "\n".join(json.dumps(event) for event in events) + "\nnot json\n"
    result = EngineResult(("apply",), 1, stdout, "Warning: noise on stderr")
    assert error_text(result) == "Resource precondition failed: the second resource refuses"
    assert "precondition" in str(CommandFailed(result))


def test_error_text_falls_back_to_stderr_without_colours_and_trims() -> None:
    result = EngineResult(("init",), 1, "", "\x1b[31mError: backend\x1b[0m " + "x" * 10_000)
    text = error_text(result)
    assert text.startswith("Error: backend")
    assert "\x1b" not in text
    assert len(text) <= MAX_MESSAGE_CHARS + 10
