"""Stacks: a Terraform module on disk plus what FlowLlama feeds it and reads back.

A :class:`StackDefinition` renders the root module of a deployment's workspace as a Python dict
(written as ``main.tf.json``): typed variables, one ``module "stack"`` call of the stack's source
directory, and its outputs re-exported. User text never enters this dict; it travels only in
``terraform.tfvars.json`` (:func:`stack_variables`), so Terraform never interpolates it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowllama.providers.base import Capability, DeploymentSpec, Placement
from flowllama.providers.naming import resource_labels, resource_name, resource_tags

MODULE_NAME = "stack"
META_OUTPUT = "flowllama"
STANDARD_OUTPUTS = ("instance_id", "public_ip", "endpoint_url")
FOUNDATION_VARIABLE = "foundation"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class StackDefinition:
    """One kind of deployment infrastructure (one cloud), as a module and its interface.

    ``variables`` maps each module input to its Terraform type constraint; ``outputs`` are the
    module outputs read back (``instance_id``/``public_ip``/``endpoint_url`` fill
    :class:`~flowllama.providers.base.ResourceState`; a ``running`` output, if any, too).
    ``stop_variable`` names the bool input that powers the server off for stop/start.
    """

    name: str
    cloud: str
    source: Path
    variables: Mapping[str, str]
    outputs: tuple[str, ...] = STANDARD_OUTPUTS
    sensitive_outputs: frozenset[str] = frozenset()
    features: frozenset[Capability] = frozenset()
    stop_variable: str | None = None
    required_version: str = ">= 1.5.0"
    provider: ProviderBlock | None = None
    foundation: str | None = None

    def __post_init__(self) -> None:
        names = [*self.variables, *self.outputs]
        bad = [name for name in names if not _IDENTIFIER.fullmatch(name) or name == META_OUTPUT]
        if bad:
            raise ValueError(f"stack {self.name!r}: invalid variable/output names {bad}")
        if self.stop_variable is not None and self.stop_variable not in self.variables:
            raise ValueError(f"stack {self.name!r}: stop_variable is not a declared variable")
        needed = [*(self.provider.arguments.values() if self.provider else ()),
                  *((FOUNDATION_VARIABLE,) if self.foundation else ())]
        missing = [name for name in needed if name not in self.variables]
        if missing:
            raise ValueError(f"stack {self.name!r}: provider/foundation need variables {missing}")

    def root_module(
        self,
        workspace: Path,
        backend_type: str,
        provided: Iterable[str],
        provider_settings: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The workspace's ``main.tf.json`` as a dict (only identifiers and paths, no values).

        Only the ``provided`` variables are declared and passed on; the module's own defaults
        cover the rest. A stack with a :class:`ProviderBlock` gets that provider configured
        here (the stack itself has none): its arguments from variables, plus the operator's
        ``provider_settings`` (endpoints, ``assume_role``...; ``${`` is escaped so they stay
        literal).
        """
        source = os.path.relpath(self.source.resolve(), workspace.resolve())
        passed = [name for name in self.variables if name in set(provided)]
        variables: dict[str, Any] = {name: {"type": self.variables[name]} for name in passed}
        # Metadata and values kept in state as an output, so a fresh host can rebuild a handle
        # (and the workspace) from remote state alone.
        variables[META_OUTPUT] = {"type": "any"}
        module: dict[str, Any] = {"source": source if source.startswith(".") else f"./{source}"}
        module.update({name: f"${{var.{name}}}" for name in passed})
        outputs: dict[str, Any] = {
            name: {
                "value": f"${{module.{MODULE_NAME}.{name}}}",
                "sensitive": name in self.sensitive_outputs,
            }
            for name in self.outputs
        }
        outputs[META_OUTPUT] = {
            "value": {
                "meta": f"${{var.{META_OUTPUT}}}",
                "variables": {name: f"${{var.{name}}}" for name in passed},
            }
        }
        root: dict[str, Any] = {
            "terraform": {
                "required_version": self.required_version,
                "backend": {backend_type: {}},
            },
            "variable": variables,
            "module": {MODULE_NAME: module},
            "output": outputs,
        }
        if self.provider is not None:
            root["terraform"]["required_providers"] = {
                self.provider.name: {"source": self.provider.source}}
            root["provider"] = {self.provider.name: [self.provider.render(provider_settings)]}
        return root


@dataclass(frozen=True)
class ProviderBlock:
    """The provider a stack's rendered root configures: ``arguments`` maps each provider
    argument to the stack variable holding its value (e.g. ``region`` → ``region``)."""

    name: str
    source: str
    arguments: Mapping[str, str]

    def render(self, settings: Mapping[str, Any] | None) -> dict[str, Any]:
        """The block's body: the operator's settings (escaped), then the variable references."""
        block: dict[str, Any] = {key: _literal(value) for key, value in (settings or {}).items()}
        block.update({arg: f"${{var.{name}}}" for arg, name in self.arguments.items()})
        return block


def _literal(value: Any) -> Any:
    """``value`` with every ``${`` / ``%{`` escaped, so Terraform reads it as plain data."""
    if isinstance(value, str):
        return value.replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, Mapping):
        return {key: _literal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_literal(item) for item in value]
    return value


def common_variables(spec: DeploymentSpec, placement: Placement) -> dict[str, Any]:
    """Every value FlowLlama offers a stack; a stack takes the ones it declares.

    ``root_volume_size_gb`` is the disk the estimate priced (``spec.root_disk_gib``); without
    one it is left out, so the stack's default applies.
    """
    disk = {} if spec.root_disk_gib is None else {"root_volume_size_gb": spec.root_disk_gib}
    return {
        # Named per server (another slot is a second server beside the first); the tags and
        # labels keep the deployment id, so every server of a deployment is found by its tag.
        "deployment_name": resource_name(spec.server_key),
        "slot": spec.slot,
        "deployment_id": spec.deployment_id,
        "user_id": spec.user_id,
        "display_name": spec.name,
        "model": spec.model,
        "context_size": spec.context_size,
        "parallel": spec.parallel,
        "runtime": spec.runtime,
        "region": placement.region,
        "zone": placement.zone,
        "instance_type": placement.instance_type,
        "spot": placement.spot,
        "gpu": placement.gpu,
        "gpu_count": placement.gpu_count,
        **disk,
        "tags": resource_tags(spec.deployment_id, spec.user_id),
        "labels": resource_labels(spec.deployment_id, spec.user_id),
        "running": True,
    }


def stack_variables(
    stack: StackDefinition,
    spec: DeploymentSpec,
    placement: Placement,
    fixed: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The values for ``terraform.tfvars.json``: declared common values, then declared extras.

    ``fixed`` are the operator's values for the cloud (environment, project, the foundation's
    outputs); ``spec.extra`` can fill a declared variable neither FlowLlama nor the operator
    sets, never override one (names and tags must stay derived from the deployment id).
    Values must be JSON.
    """
    common = common_variables(spec, placement)
    values = {name: value for name, value in common.items() if name in stack.variables}
    for extra in (fixed or {}, spec.extra):
        values.update({name: value for name, value in extra.items()
                       if name in stack.variables and name not in values})
    json.dumps(values, allow_nan=False)  # fail here, not inside Terraform, on a non-JSON value
    return values


def terraform_data_stack(source: Path) -> StackDefinition:
    """The ``terraform_data``-only stack in ``deploy/terraform/stacks/test`` (cloud ``test``).

    It needs no provider download or cloud, so the real engine can init, plan, apply, fail halfway
    (``fail_after_first``) and destroy in tests and smoke checks.
    """
    return StackDefinition(
        name="test",
        cloud="test",
        source=source,
        variables={
            "deployment_name": "string",
            "display_name": "string",
            "model": "string",
            "context_size": "number",
            "region": "string",
            "instance_type": "string",
            "spot": "bool",
            "tags": "map(string)",
            "running": "bool",
            "fail_after_first": "bool",
            "failure_message": "string",
            "apply_delay_seconds": "number",
        },
        outputs=(*STANDARD_OUTPUTS, "running", "echo"),
        features=frozenset({Capability.GPU, Capability.SPOT, Capability.STOP_START,
                            Capability.ADOPT}),
        stop_variable="running",
    )
