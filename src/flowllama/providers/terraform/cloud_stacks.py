"""The stacks FlowLlama ships for AWS and GCP: each cloud's foundation (applied once per region
by ``flowllama cloud init``) and its per-deployment ``ollama`` stack, as
:class:`~.stacks.StackDefinition` s.

The variable names and types here are the stacks' interface (``deploy/terraform/stacks/*/
variables.tf`` declare the same); the foundation's outputs reach the ollama stack as the one
typed ``foundation`` variable (:mod:`.foundation`).
"""

from __future__ import annotations

from pathlib import Path

from flowllama.providers.base import Capability
from flowllama.providers.terraform.bundled import stack_dir
from flowllama.providers.terraform.stacks import (
    FOUNDATION_VARIABLE,
    STANDARD_OUTPUTS,
    ProviderBlock,
    StackDefinition,
)

AWS_PROVIDER = ProviderBlock("aws", "hashicorp/aws", {"region": "region"})
GOOGLE_PROVIDER = ProviderBlock("google", "hashicorp/google",
                                {"project": "project", "region": "region"})

AWS_FOUNDATION_OUTPUTS = {
    "vpc_id": "string",
    "private_subnet_ids": "list(string)",
    "gateway_security_group_id": "string",
    "instance_profile_name": "string",
    "model_bucket_name": "string",
    "instance_log_group_name": "string",
}
GCP_FOUNDATION_OUTPUTS = {
    "network": "string",
    "subnetwork": "string",
    "gateway_tag": "string",
    "service_account_email": "string",
    "model_bucket_name": "string",
}

# What every ollama stack takes from the deployment (see stacks.common_variables).
_DEPLOYMENT_VARIABLES = {
    "deployment_name": "string",
    "deployment_id": "string",
    "display_name": "string",
    "model": "string",
    "context_size": "number",
    "parallel": "number",
    "region": "string",
    "zone": "string",
    "instance_type": "string",
    "spot": "bool",
    "gpu_count": "number",
    "root_volume_size_gb": "number",
    "running": "bool",
    "environment": "string",
    "image_id": "string",
    "ollama_version": "string",
    "ollama_sha256": "string",
}
_OLLAMA_OUTPUTS = (*STANDARD_OUTPUTS, "private_ip", "running")
_FEATURES = frozenset({Capability.GPU, Capability.SPOT, Capability.ADOPT, Capability.STOP_START})


def object_type(fields: dict[str, str]) -> str:
    """A Terraform ``object({...})`` type expression."""
    return "object({" + ", ".join(f"{name} = {kind}" for name, kind in fields.items()) + "})"


def aws_ollama_stack(source: Path | None = None) -> StackDefinition:
    """One deployment's server on AWS (``stacks/aws-ollama``)."""
    return StackDefinition(
        name="aws-ollama", cloud="aws", source=source or stack_dir("aws-ollama"),
        variables={**_DEPLOYMENT_VARIABLES, "tags": "map(string)",
                   FOUNDATION_VARIABLE: object_type(AWS_FOUNDATION_OUTPUTS)},
        outputs=_OLLAMA_OUTPUTS, features=_FEATURES, stop_variable="running",
        provider=AWS_PROVIDER, foundation="aws-foundation",
    )


def gcp_ollama_stack(source: Path | None = None) -> StackDefinition:
    """One deployment's server on GCP (``stacks/gcp-ollama``)."""
    return StackDefinition(
        name="gcp-ollama", cloud="gcp", source=source or stack_dir("gcp-ollama"),
        variables={**_DEPLOYMENT_VARIABLES, "labels": "map(string)", "project": "string",
                   "gpu": "string", FOUNDATION_VARIABLE: object_type(GCP_FOUNDATION_OUTPUTS)},
        outputs=_OLLAMA_OUTPUTS, features=_FEATURES, stop_variable="running",
        provider=GOOGLE_PROVIDER, foundation="gcp-foundation",
    )


def aws_foundation_stack(source: Path | None = None) -> StackDefinition:
    """The AWS base of one region (``stacks/aws-foundation``)."""
    return StackDefinition(
        name="aws-foundation", cloud="aws", source=source or stack_dir("aws-foundation"),
        variables={"name": "string", "region": "string", "environment": "string",
                   "tags": "map(string)"},
        outputs=tuple(AWS_FOUNDATION_OUTPUTS), provider=AWS_PROVIDER,
    )


def gcp_foundation_stack(source: Path | None = None) -> StackDefinition:
    """The GCP base of one region (``stacks/gcp-foundation``)."""
    return StackDefinition(
        name="gcp-foundation", cloud="gcp", source=source or stack_dir("gcp-foundation"),
        variables={"name": "string", "region": "string", "environment": "string",
                   "project": "string", "labels": "map(string)"},
        outputs=tuple(GCP_FOUNDATION_OUTPUTS), provider=GOOGLE_PROVIDER,
    )
