"""Rendering a stack's root module and its variable values."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import StackDefinition, terraform_data_stack
from flowllama.providers.terraform.cloud_stacks import aws_ollama_stack, gcp_ollama_stack
from flowllama.providers.terraform.stacks import META_OUTPUT, ProviderBlock, stack_variables

SPEC = DeploymentSpec(deployment_id="abc", user_id="u1", name='x"${evil}', model="m",
                      context_size=4096, extra={"fail_after_first": True, "tags": {"a": "b"},
                                                "deployment_name": "fl-someone-else",
                                                "not_declared": 1})
PLACEMENT = Placement(cloud="test", region="local", instance_type="t")


def test_root_module_calls_the_stack_with_only_the_given_variables(tmp_path: Path) -> None:
    stack = terraform_data_stack(tmp_path / "stacks" / "test")
    workspace = tmp_path / "ws" / "fl-abc"
    root = stack.root_module(workspace, "s3", ["deployment_name", "model"])

    assert root["terraform"]["backend"] == {"s3": {}}
    assert root["module"]["stack"] == {
        "source": "../../stacks/test",
        "deployment_name": "${var.deployment_name}",
        "model": "${var.model}",
    }
    assert set(root["variable"]) == {"deployment_name", "model", META_OUTPUT}
    assert root["output"]["endpoint_url"] == {"value": "${module.stack.endpoint_url}",
                                               "sensitive": False}
    assert root["output"][META_OUTPUT]["value"]["variables"]["model"] == "${var.model}"


def test_variables_are_declared_values_and_extras_cannot_override_names(tmp_path: Path) -> None:
    values = stack_variables(terraform_data_stack(tmp_path), SPEC, PLACEMENT)

    assert values["deployment_name"] == "fl-abc"
    assert values["tags"]["flowllama:deployment"] == "abc"
    assert values["display_name"] == 'x"${evil}'
    assert values["fail_after_first"] is True
    assert "not_declared" not in values and "user_id" not in values


def test_user_text_never_reaches_the_root_module(tmp_path: Path) -> None:
    stack = terraform_data_stack(tmp_path)
    values = stack_variables(stack, SPEC, PLACEMENT)
    rendered = json.dumps(stack.root_module(tmp_path / "ws", "local", values))
    assert "evil" not in rendered


def test_non_json_extra_values_are_refused(tmp_path: Path) -> None:
    spec = DeploymentSpec(deployment_id="abc", user_id="u1", name="n", model="m",
                          context_size=1, extra={"failure_message": object()})
    with pytest.raises(TypeError):
        stack_variables(terraform_data_stack(tmp_path), spec, PLACEMENT)


@pytest.mark.parametrize("name", ["bad-name", "Upper", "x}${y", META_OUTPUT])
def test_stack_interface_names_must_be_identifiers(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        StackDefinition("s", "test", tmp_path, {name: "string"})


def test_a_stack_with_a_provider_gets_it_configured_from_variables_and_escaped_settings(
        tmp_path: Path) -> None:
    provider = ProviderBlock("aws", "hashicorp/aws", {"region": "region"})
    stack = StackDefinition(name="cloud", cloud="aws", source=tmp_path / "stacks" / "cloud",
                            variables={"region": "string"}, provider=provider)
    settings = {"endpoints": [{"ec2": "http://127.0.0.1:1"}], "profile": "x${var.region}%{y}",
                "region": "eu-west-1"}
    root = stack.root_module(tmp_path / "ws" / "fl-a", "local", ["region"], settings)

    assert root["terraform"]["required_providers"] == {"aws": {"source": "hashicorp/aws"}}
    assert root["provider"] == {"aws": [{
        "endpoints": [{"ec2": "http://127.0.0.1:1"}],
        "profile": "x$${var.region}%%{y}",  # operator text stays literal
        "region": "${var.region}",  # the placement's region always wins
    }]}


def test_provider_and_foundation_need_their_variables_declared(tmp_path: Path) -> None:
    provider = ProviderBlock("aws", "hashicorp/aws", {"region": "region"})
    with pytest.raises(ValueError, match="region"):
        StackDefinition(name="s", cloud="aws", source=tmp_path, variables={}, provider=provider)
    with pytest.raises(ValueError, match="foundation"):
        StackDefinition(name="s", cloud="aws", source=tmp_path, variables={},
                        foundation="aws-foundation")


def test_operator_values_fill_declared_variables_but_never_override_computed_ones(
        tmp_path: Path) -> None:
    stack = StackDefinition(name="s", cloud="test", source=tmp_path,
                            variables={"deployment_name": "string", "environment": "string",
                                       "image_id": "string", "model": "string"})
    spec = DeploymentSpec(deployment_id="abc", user_id="u1", name="n", model="m",
                          context_size=4096, extra={"environment": "mine", "image_id": "ami-1"})
    values = stack_variables(stack, spec, PLACEMENT,
                             {"environment": "prod", "deployment_name": "fl-other", "x": 1})
    assert values == {"deployment_name": "fl-abc", "model": "m", "environment": "prod",
                      "image_id": "ami-1"}


@pytest.mark.parametrize("stack", [aws_ollama_stack(), gcp_ollama_stack()], ids=lambda s: s.name)
def test_both_ollama_stacks_get_the_disk_the_spec_carries(stack: StackDefinition) -> None:
    spec = DeploymentSpec(deployment_id="d1", user_id="u1", name="big", model="qwen2.5:72b",
                          context_size=8192, root_disk_gib=180)
    placement = Placement(cloud=stack.cloud, region="us-east-1", instance_type="g6e.12xlarge")
    assert stack_variables(stack, spec, placement)["root_volume_size_gb"] == 180
    # No size carried (nothing priced one): the stack's own default (the floor) applies, and
    # nothing in providers/ sizes the disk a second way from the model's name.
    unsized = replace(spec, root_disk_gib=None)
    assert "root_volume_size_gb" not in stack_variables(stack, unsized, placement)
