"""From Terraform's outputs to what the agent stores and reads: handle data and resource state.

Handle data is ``{"meta", "variables", "outputs"}``: the stack and placement, the values the
workspace was rendered with (enough to rebuild it on another host), and the non-sensitive
outputs. Sensitive outputs never enter a handle, which is stored in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowllama.providers.base import ResourceState
from flowllama.providers.terraform.stacks import META_OUTPUT


def output_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Non-sensitive output values from ``terraform output -json``, metadata excluded."""
    return {
        name: item.get("value")
        for name, item in raw.items()
        if isinstance(item, Mapping) and not item.get("sensitive") and name != META_OUTPUT
    }


def handle_data(
    meta: Mapping[str, Any], variables: Mapping[str, Any], raw_outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``data`` of a Terraform handle."""
    return {
        "meta": dict(meta),
        "variables": {k: v for k, v in variables.items() if k != META_OUTPUT},
        "outputs": output_values(raw_outputs),
    }


def handle_data_from_state(
    local_variables: Mapping[str, Any] | None, raw_outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Handle data for an adopted workspace: local files first, else the state's metadata output.

    When neither has metadata (a crash before Terraform saved any output, and no local files) the
    handle has an empty ``meta``; destroying it then needs an operator.
    """
    if local_variables and META_OUTPUT in local_variables:
        variables = dict(local_variables)
        meta = variables.pop(META_OUTPUT) or {}
        return handle_data(meta, variables, raw_outputs)
    stored = (raw_outputs.get(META_OUTPUT) or {}).get("value") or {}
    return handle_data(stored.get("meta") or {}, stored.get("variables") or {}, raw_outputs)


def resource_state(resources: list[str], raw_outputs: Mapping[str, Any]) -> ResourceState:
    """The state the agent reads: exists if Terraform manages anything, running per ``running``."""
    values = output_values(raw_outputs)
    exists = bool(resources)
    running = exists and bool(values.get("running", True))
    return ResourceState(
        exists=exists,
        running=running,
        endpoint_url=_text(values.get("endpoint_url")),
        instance_id=_text(values.get("instance_id")),
        public_ip=_text(values.get("public_ip")),
        detail=f"{len(resources)} resources in state" if exists else "no resources in state",
    )


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
