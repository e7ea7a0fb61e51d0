"""From Terraform outputs to handle data and resource state."""

from __future__ import annotations

from flowllama.providers.terraform.outputs import (
    handle_data,
    handle_data_from_state,
    resource_state,
)

RAW = {
    "endpoint_url": {"value": "http://10.0.0.5:11434", "sensitive": False},
    "public_ip": {"value": "10.0.0.5", "sensitive": False},
    "instance_id": {"value": "i-0abc", "sensitive": False},
    "admin_token": {"value": "s3cr3t", "sensitive": True},
    "flowllama": {"value": {"meta": {"stack": "aws"}, "variables": {"model": "m"}}},
}


def test_sensitive_outputs_never_enter_a_handle() -> None:
    data = handle_data({"stack": "aws"}, {"model": "m", "flowllama": {}}, RAW)
    assert data == {
        "meta": {"stack": "aws"},
        "variables": {"model": "m"},
        "outputs": {"endpoint_url": "http://10.0.0.5:11434", "public_ip": "10.0.0.5",
                    "instance_id": "i-0abc"},
    }


def test_adoption_prefers_local_files_then_state_metadata() -> None:
    local = {"model": "local-m", "flowllama": {"stack": "local-stack"}}
    assert handle_data_from_state(local, RAW)["meta"] == {"stack": "local-stack"}
    from_state = handle_data_from_state(None, RAW)
    assert from_state["meta"] == {"stack": "aws"}
    assert from_state["variables"] == {"model": "m"}
    assert handle_data_from_state(None, {})["meta"] == {}


def test_resource_state() -> None:
    state = resource_state(["module.stack.aws_instance.server"], RAW)
    assert (state.exists, state.running) == (True, True)
    assert state.endpoint_url == "http://10.0.0.5:11434"
    assert state.instance_id == "i-0abc"
    stopped = resource_state(["x"], {**RAW, "running": {"value": False}})
    assert (stopped.exists, stopped.running) == (True, False)
    gone = resource_state([], {})
    assert (gone.exists, gone.running, gone.endpoint_url) == (False, False, None)
