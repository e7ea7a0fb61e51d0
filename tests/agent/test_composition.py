"""Wiring from settings: the provisioners this machine offers, the Terraform state backend, the
local capacity pre-check the API uses, and the sweep of local runtimes nobody owns."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from flowllama.agent.composition import (
    attach_local,
    build_agent,
    build_registry,
    cloud_values,
    foundations,
    terraform_provisioner,
)
from flowllama.domain.deployments import DeploymentCreate
from flowllama.errors import InvalidInput
from flowllama.platform import Platform, build_platform
from flowllama.providers.external import ExternalProvisioner
from flowllama.providers.local import procfs, supervision
from flowllama.providers.terraform import BinaryEngine, TerraformProvisioner
from flowllama.providers.terraform.bundled import terraform_dir
from flowllama.providers.terraform.interruptions import AwsSpotInterruptions
from flowllama.settings import CloudSettings, CloudsSettings, Settings


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
    assert registry.kinds() == ["external", "local", "terraform"]
    assert registry.get("local") is local
    assert isinstance(registry.get("external"), ExternalProvisioner)
    terraform = registry.get("terraform")
    assert isinstance(terraform, TerraformProvisioner)
    assert terraform.backend.type == "s3"
    assert terraform.backend.render("fl-x")["key"] == "flowllama/fl-x/terraform.tfstate"
    assert terraform.capabilities.clouds == {"aws", "gcp"}
    assert {s.name: s.foundation for s in terraform.stacks.values()} == {
        "aws-ollama": "aws-foundation", "gcp-ollama": "gcp-foundation"}
    assert terraform.stacks["aws-ollama"].source == (
        terraform_dir() / "stacks" / "aws-ollama")


def test_terraform_asks_ec2_about_spot_servers_where_the_aws_provider_is_pointed(
        settings: Settings) -> None:
    configured = settings.model_copy(update={"terraform": settings.terraform.model_copy(update={
        "provider_settings": {"aws": {"endpoints": [{"ec2": "http://127.0.0.1:4566"}],
                                      "profile": "ops"}}})})
    terraform = terraform_provisioner(configured, BinaryEngine("terraform"))
    assert isinstance(terraform.interruptions, AwsSpotInterruptions)
    assert terraform.interruptions.endpoint == "http://127.0.0.1:4566"
    assert terraform.interruptions.profile == "ops"


def test_operator_values_and_foundations_follow_the_cloud_settings(settings: Settings) -> None:
    configured = settings.model_copy(update={"clouds": CloudsSettings(
        aws=CloudSettings(enabled=True, environment="staging", image_id="ami-0abc"),
        gcp=CloudSettings(project="my-project-1"), ollama_sha256="a" * 64)})
    values = cloud_values(configured)
    assert values["aws"] == {"environment": "staging", "ollama_version": "0.12.6",
                             "image_id": "ami-0abc", "ollama_sha256": "a" * 64}
    assert values["gcp"]["project"] == "my-project-1"
    bases = foundations(configured, BinaryEngine("terraform"), environment="qa")
    stack = bases.stack_for("aws")
    assert bases.workspace_name(stack, "us-east-1") == "foundation-aws-us-east-1-qa"
    assert bases.root_dir == (configured.data_dir / "terraform").resolve()


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


def test_the_sweep_stops_a_runtime_of_a_deployment_that_does_not_exist(
        wired: Platform, tmp_path: Path) -> None:
    fast = wired.settings.model_copy(update={"agent": wired.settings.agent.model_copy(
        update={"sweep_interval_s": 0.2, "workers": 1})})
    platform = build_platform(fast, db=wired.db)
    local = attach_local(platform)
    agent = build_agent(platform, local)
    agent.start()
    try:  # started after the agent's start-up recovery: only the sweep can find it
        root = local.root
        root.mkdir(parents=True, exist_ok=True)
        orphan = supervision.spawn("no-such-deployment", supervision.supervisor_command(
            python=sys.executable, root=root, deployment_id="no-such-deployment",
            log_file=tmp_path / "orphan.log", max_bytes=1 << 20, backups=1,
            runtime_command=["sleep", "120"]), {"PATH": "/usr/bin:/bin"}, tmp_path)
        deadline = time.monotonic() + 30
        while procfs.session_members(orphan.pid, orphan.start_time):
            assert time.monotonic() < deadline, "the sweep never stopped the orphan"
            time.sleep(0.1)
    finally:
        agent.stop(grace_s=5)
    assert supervision.find_supervisors(local.root) == []
