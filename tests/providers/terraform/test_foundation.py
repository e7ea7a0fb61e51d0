"""Foundations for real (engine, state, outputs) on provider-free stand-in stacks: applied once,
read back by the provisioner and handed to a deployment's stack as one typed JSON variable."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from flowllama.errors import NoCapacity, NoFoundation, ProvisioningFailed
from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import Engine, StackDefinition, TerraformProvisioner
from flowllama.providers.terraform.cloud_stacks import AWS_FOUNDATION_OUTPUTS, object_type
from flowllama.providers.terraform.foundation import Foundations
from providers.terraform.conftest import FAST

STACKS = Path(__file__).with_name("stacks")
FOUNDATION = StackDefinition(
    name="test-foundation", cloud="test", source=STACKS / "foundation",
    variables={"name": "string", "region": "string", "environment": "string",
               "tags": "map(string)"},
    outputs=(*AWS_FOUNDATION_OUTPUTS, "seen"))
CONSUMER = StackDefinition(
    name="consumer", cloud="test", source=STACKS / "consumer",
    variables={"deployment_name": "string", "region": "string",
               "foundation": object_type(AWS_FOUNDATION_OUTPUTS)},
    outputs=("instance_id", "public_ip", "endpoint_url", "echo"), foundation="test-foundation")
REGION = "test-region-1"


@pytest.fixture
def foundations(tmp_path: Path, engine: Engine) -> Foundations:
    return Foundations(tmp_path / "terraform", [FOUNDATION], engine=engine, options=FAST,
                       cloud_values={"test": {"environment": "qa"}})


def test_a_foundation_is_named_by_cloud_region_environment_and_tagged(
        foundations: Foundations) -> None:
    assert foundations.workspace_name(FOUNDATION, REGION) == "foundation-test-test-region-1-qa"
    assert foundations.variables(FOUNDATION, REGION) == {
        "name": "flowllama-qa", "region": REGION, "environment": "qa",
        "tags": {"project": "flowllama", "environment": "qa"}}
    with pytest.raises(ValueError, match="region"):
        foundations.workspace_name(FOUNDATION, "../elsewhere")


def test_outputs_reach_the_deployment_stack_as_one_typed_variable(
        foundations: Foundations, tmp_path: Path, engine: Engine) -> None:
    with pytest.raises(NoFoundation, match="flowllama cloud init test --region "
                                           f"{REGION} --environment qa"):
        foundations.outputs(FOUNDATION.name, REGION)

    outputs = foundations.apply("test", REGION)
    assert outputs["private_subnet_ids"] == [f"subnet-a-{REGION}", f"subnet-b-{REGION}"]
    assert outputs["seen"]["tags"] == {"project": "flowllama", "environment": "qa"}

    provisioner = TerraformProvisioner(tmp_path / "terraform", [CONSUMER], engine=engine,
                                       options=FAST, foundations=foundations)
    spec = DeploymentSpec(deployment_id=uuid.uuid4().hex, user_id="u1", name="n", model="m",
                          context_size=2048, cloud="test")
    handle = provisioner.create(spec, Placement(cloud="test", region=REGION, instance_type="t"))
    received = handle.data["variables"]["foundation"]
    assert handle.data["outputs"]["echo"] == {k: outputs[k] for k in AWS_FOUNDATION_OUTPUTS}
    assert {k: received[k] for k in AWS_FOUNDATION_OUTPUTS} == handle.data["outputs"]["echo"]
    provisioner.destroy(handle)

    foundations.destroy("test", REGION)
    with pytest.raises(NoFoundation, match="no test foundation"):
        foundations.outputs(FOUNDATION.name, REGION)


def test_a_region_without_a_foundation_is_refused_as_an_offer_to_skip(
        foundations: Foundations, tmp_path: Path, engine: Engine) -> None:
    provisioner = TerraformProvisioner(tmp_path / "terraform", [CONSUMER], engine=engine,
                                       options=FAST, foundations=foundations)
    spec = DeploymentSpec(deployment_id=uuid.uuid4().hex, user_id="u1", name="n", model="m",
                          context_size=2048, cloud="test")
    with pytest.raises(NoFoundation, match=f"no test foundation in {REGION}.*flowllama cloud "
                                           f"init test --region {REGION}") as caught:
        provisioner.create(spec, Placement(cloud="test", region=REGION, instance_type="t"))
    # A NoCapacity, so the agent moves on to the next offer instead of failing the step.
    assert isinstance(caught.value, NoCapacity)
    assert not isinstance(caught.value, ProvisioningFailed)
    assert not (tmp_path / "terraform" / f"fl-{spec.deployment_id}").exists()


def test_an_unknown_foundation_stack_is_a_failure_not_a_skip(
        foundations: Foundations) -> None:
    # Only "never applied" is a reason to try elsewhere; an unknown stack is a real failure.
    with pytest.raises(ProvisioningFailed, match="unknown foundation stack"):
        foundations.outputs("no-such-foundation", REGION)
