"""The cloud stack definitions match the stacks they describe: every variable FlowLlama passes
is declared there, every output it reads exists, and the foundation's outputs are the object the
ollama stack takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.devtools.hcl_files import labelled_blocks, load_hcl, tf_files
from flowllama.providers.terraform import StackDefinition
from flowllama.providers.terraform.cloud_stacks import (
    AWS_FOUNDATION_OUTPUTS,
    GCP_FOUNDATION_OUTPUTS,
    aws_foundation_stack,
    aws_ollama_stack,
    gcp_foundation_stack,
    gcp_ollama_stack,
)

DEFINITIONS = [aws_foundation_stack(), aws_ollama_stack(), gcp_foundation_stack(),
               gcp_ollama_stack()]


def _declared(source: Path, kind: str) -> list[str]:
    return [name for path in tf_files(source)
            for (name,), _body in labelled_blocks(load_hcl(path), kind, 1)]


def _present(stack: StackDefinition) -> StackDefinition:
    if not (stack.source / "main.tf").is_file():
        pytest.skip(f"{stack.source} is not in this checkout yet")
    return stack


@pytest.mark.parametrize("stack", DEFINITIONS, ids=lambda s: s.name)
def test_definition_and_stack_agree_on_variables_and_outputs(stack: StackDefinition) -> None:
    _present(stack)
    assert set(stack.variables) <= set(_declared(stack.source, "variable"))
    assert set(stack.outputs) <= set(_declared(stack.source, "output"))


@pytest.mark.parametrize("stack", DEFINITIONS, ids=lambda s: s.name)
def test_every_required_stack_variable_is_one_flowllama_passes(stack: StackDefinition) -> None:
    _present(stack)
    required = [name for path in tf_files(stack.source)
                for (name,), body in labelled_blocks(load_hcl(path), "variable", 1)
                if "default" not in body]
    assert set(required) <= set(stack.variables), "FlowLlama would never set these"


def test_ollama_stacks_take_their_foundation_and_the_deployment_values() -> None:
    aws, gcp = aws_ollama_stack(), gcp_ollama_stack()
    assert (aws.foundation, gcp.foundation) == ("aws-foundation", "gcp-foundation")
    assert aws_foundation_stack().outputs == tuple(AWS_FOUNDATION_OUTPUTS)
    assert gcp_foundation_stack().outputs == tuple(GCP_FOUNDATION_OUTPUTS)
    for stack in (aws, gcp):
        assert {"instance_id", "private_ip", "public_ip", "endpoint_url", "running"} <= set(
            stack.outputs)
        assert stack.stop_variable == "running"
    assert aws.provider is not None and aws.provider.arguments == {"region": "region"}
    assert gcp.provider is not None and set(gcp.provider.arguments) == {"project", "region"}
