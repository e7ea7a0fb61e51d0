"""Wiring from settings: the provisioners this machine offers, the Terraform state backend, and
the local capacity pre-check the API uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.agent.composition import attach_local, build_agent, build_registry
from flowllama.domain.deployments import DeploymentCreate
from flowllama.errors import InvalidInput
from flowllama.platform import Platform, build_platform
from flowllama.providers.terraform import TerraformProvisioner
from flowllama.settings import Settings


@pytest.fixture
def wired(settings: Settings, tiny_model_file: Path) -> Platform:
    configured = settings.model_copy(update={
        "models_dir": tiny_model_file.parent,
        "terraform": settings.terraform.model_copy(update={
            "backend": "s3", "backend_config": {"bucket": "tf-state", "region": "eu-west-1"}}),
    })
    return build_platform(configured)


def test_registry_offers_local_and_terraform_with_the_configured_state(wired: Platform) -> None:
    local = attach_local(wired)
    registry = build_registry(wired, local)
    assert registry.kinds() == ["local", "terraform"]
    assert registry.get("local") is local
    terraform = registry.get("terraform")
    assert isinstance(terraform, TerraformProvisioner)
    assert terraform.backend.type == "s3"
    assert terraform.backend.render("fl-x")["key"] == "flowllama/fl-x/terraform.tfstate"


def test_local_check_refuses_what_this_machine_cannot_hold(wired: Platform) -> None:
    attach_local(wired)
    assert wired.local_check is not None and wired.local_logs is not None
    wired.local_check(DeploymentCreate(name="tiny", model="local/tiny", context_size=512,
                                       cloud="local"))
    with pytest.raises(InvalidInput) as caught:
        wired.local_check(DeploymentCreate(name="big", model="llama3.3:70b",
                                           context_size=131072, cloud="local"))
    assert caught.value.code == "insufficient_memory"
    assert "GiB" in caught.value.message


def test_agent_uses_the_configured_workers(wired: Platform) -> None:
    agent = build_agent(wired, attach_local(wired), workers=3)
    assert len(agent.workers) == 3
    assert len(build_agent(wired, attach_local(wired)).workers) == wired.settings.agent.workers
