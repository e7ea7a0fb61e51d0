"""The root disk of a cloud server is sized from its model's weights."""

from __future__ import annotations

import pytest

from flowllama.catalog.models import default_catalog
from flowllama.providers.base import DeploymentSpec, Placement
from flowllama.providers.terraform.cloud_stacks import aws_ollama_stack, gcp_ollama_stack
from flowllama.providers.terraform.disk import FLOOR_GIB, GIB, OS_BASE_GIB, root_disk_gib
from flowllama.providers.terraform.stacks import StackDefinition, stack_variables


def test_a_small_model_gets_the_floor() -> None:
    assert root_disk_gib("llama3.1:8b") == FLOOR_GIB == 100


def test_a_large_model_gets_the_base_two_copies_and_headroom() -> None:
    model = default_catalog().get("llama3.3:70b")
    size = root_disk_gib(model.name)
    weights = model.size_bytes / GIB
    assert size >= OS_BASE_GIB + 2 * weights > FLOOR_GIB
    assert size % 10 == 0 and size < (OS_BASE_GIB + 2 * weights) * 1.1 + 10
    assert size == 180


def test_bigger_weights_never_get_a_smaller_disk() -> None:
    models = sorted(default_catalog().all(), key=lambda model: model.size_bytes)
    sizes = [root_disk_gib(model.name) for model in models]
    assert sizes == sorted(sizes)


def test_a_model_outside_the_catalog_gets_the_floor() -> None:
    assert root_disk_gib("local/my-finetune") == FLOOR_GIB


@pytest.mark.parametrize("stack", [aws_ollama_stack(), gcp_ollama_stack()], ids=lambda s: s.name)
def test_both_ollama_stacks_are_given_the_size(stack: StackDefinition) -> None:
    spec = DeploymentSpec(deployment_id="d1", user_id="u1", name="big", model="qwen2.5:72b",
                          context_size=8192)
    placement = Placement(cloud="aws", region="us-east-1", instance_type="g6e.12xlarge")
    values = stack_variables(stack, spec, placement)
    assert values["root_volume_size_gb"] == root_disk_gib("qwen2.5:72b") > FLOOR_GIB


def test_a_name_that_is_no_model_name_gets_the_floor() -> None:
    assert root_disk_gib('m"${x}\n') == FLOOR_GIB
