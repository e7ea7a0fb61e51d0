"""The Terraform provisioner against the real engine and the terraform_data test stack."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowllama.errors import NoCapacity, ProvisioningFailed
from flowllama.providers import DeploymentSpec, Handle, Placement, Unsupported
from flowllama.providers.terraform import (
    BackendConfig,
    BinaryEngine,
    TerraformOptions,
    TerraformProvisioner,
)

SERVER = "module.stack.terraform_data.server"
SpecFactory = Callable[..., DeploymentSpec]
StateReader = Callable[[Path], list[dict[str, Any]]]

AWKWARD = 'say "hi" ${var.model} %{ if true }x%{ endif } $${x} \\n\nline two\ttab ünï €'


def servers(resources: list[dict[str, Any]]) -> int:
    return sum(1 for r in resources if r["address"] == SERVER)


def test_create_applies_the_stack_and_returns_outputs(
    provisioner: TerraformProvisioner, new_spec: SpecFactory, placement: Placement, root: Path,
    local_state: StateReader,
) -> None:
    spec = new_spec()
    handle = provisioner.create(spec, placement)

    assert handle.kind == "terraform"
    assert handle.name == f"fl-{spec.deployment_id}"
    outputs = handle.data["outputs"]
    assert outputs["endpoint_url"] == "http://127.0.0.1:11434"
    assert outputs["instance_id"].startswith("i-")
    assert outputs["echo"]["tags"] == {
        "flowllama:deployment": spec.deployment_id,
        "flowllama:user": spec.user_id,
        "Name": handle.name,
    }
    assert json.loads(json.dumps(handle.to_dict())) == handle.to_dict()
    assert Handle.from_dict(handle.to_dict()) == handle
    assert servers(local_state(root / handle.name)) == 1
    assert provisioner.operations["apply"] == 1

    state = provisioner.refresh(handle)
    assert state.exists and state.running
    assert state.endpoint_url == "http://127.0.0.1:11434"
    assert state.public_ip == "127.0.0.1"
    assert state.instance_id == outputs["instance_id"]


def test_same_create_twice_applies_once_and_adopts(
    provisioner: TerraformProvisioner, new_spec: SpecFactory, placement: Placement, root: Path,
    local_state: StateReader,
) -> None:
    spec = new_spec()
    first = provisioner.create(spec, placement)
    second = provisioner.create(spec, placement)

    assert provisioner.operations["apply"] == 1
    assert provisioner.operations["plan"] == 2
    assert second == first
    assert servers(local_state(root / first.name)) == 1


def test_concurrent_creates_of_one_deployment_apply_once(
    provisioner: TerraformProvisioner, new_spec: SpecFactory, placement: Placement, root: Path,
    local_state: StateReader,
) -> None:
    spec = new_spec()
    handles: list[Handle] = []
    threads = [
        threading.Thread(target=lambda: handles.append(provisioner.create(spec, placement)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(handles) == 3 and handles[0] == handles[1] == handles[2]
    assert provisioner.operations["apply"] == 1
    assert servers(local_state(root / handles[0].name)) == 1


def test_failure_halfway_rolls_back_and_leaves_no_workspace(
    make_provisioner: Callable[..., TerraformProvisioner], new_spec: SpecFactory,
    placement: Placement, root: Path, local_state: StateReader,
) -> None:
    snapshots: list[list[str]] = []
    spec = new_spec(fail_after_first=True)
    workspace = root / f"fl-{spec.deployment_id}"

    def watch(label: str, _name: str) -> None:
        # Before the roll-back's destroy, the half-applied server is really in the state.
        if label == "destroy":
            snapshots.append([r["address"] for r in local_state(workspace)])

    provisioner = make_provisioner(on_command=watch)
    with pytest.raises(ProvisioningFailed) as raised:
        provisioner.create(spec, placement)

    assert not isinstance(raised.value, NoCapacity)
    assert "fail_after_first is set" in str(raised.value)
    assert "rolled back" in str(raised.value)
    assert snapshots == [[SERVER]]
    assert provisioner.operations["apply"] == 1
    assert provisioner.operations["destroy"] == 1
    assert not workspace.exists()
    assert list(root.iterdir()) == []
    assert provisioner.find(spec) is None


def test_capacity_failure_is_no_capacity_and_cleaned_up(
    provisioner: TerraformProvisioner, new_spec: SpecFactory, placement: Placement, root: Path,
) -> None:
    message = ("creating EC2 Instance: InsufficientInstanceCapacity: We currently do not have "
               "sufficient g5.xlarge capacity in the Availability Zone you requested")
    spec = new_spec(fail_after_first=True, failure_message=message)

    with pytest.raises(NoCapacity, match="InsufficientInstanceCapacity"):
        provisioner.create(spec, placement)

    assert list(root.iterdir()) == []


def test_failure_with_remote_state_leaves_nothing_in_state(
    make_provisioner: Callable[..., TerraformProvisioner], http_backend: BackendConfig,
    state_server: Any, new_spec: SpecFactory, placement: Placement, root: Path,
) -> None:
    provisioner = make_provisioner(backend=http_backend)
    spec = new_spec(fail_after_first=True)

    with pytest.raises(ProvisioningFailed):
        provisioner.create(spec, placement)

    assert state_server.resources(f"fl-{spec.deployment_id}") == []
    assert state_server.locks == {}
    assert list(root.iterdir()) == []


def test_destroy_is_idempotent_and_leaves_nothing(
    provisioner: TerraformProvisioner, new_spec: SpecFactory, placement: Placement, root: Path,
) -> None:
    spec = new_spec()
    handle = provisioner.create(spec, placement)

    provisioner.destroy(handle)
    provisioner.destroy(handle)

    assert list(root.iterdir()) == []
    assert provisioner.operations["destroy"] == 1
    assert provisioner.refresh(handle).exists is False
    assert provisioner.find(spec) is None
    assert list(root.iterdir()) == []


def test_destroy_of_something_never_created_succeeds(
    provisioner: TerraformProvisioner, new_spec: SpecFactory,
) -> None:
    handle = Handle("terraform", "feedbeef", "fl-feedbeef", {})
    provisioner.destroy(handle)
    assert sum(provisioner.operations.values()) == 0


def test_user_text_reaches_terraform_only_as_json_variables(
    provisioner: TerraformProvisioner, placement: Placement, root: Path,
) -> None:
    spec = DeploymentSpec(
        deployment_id="0123abcd", user_id="u1", name=AWKWARD, model='m"${x}\n',
        context_size=2048,
    )
    handle = provisioner.create(spec, placement)

    echo = handle.data["outputs"]["echo"]
    assert echo["display_name"] == AWKWARD
    assert echo["model"] == 'm"${x}\n'
    workspace = root / handle.name
    main = (workspace / "main.tf.json").read_text()
    assert "say" not in main and "m\\\"" not in main
    values = json.loads((workspace / "terraform.tfvars.json").read_text())
    assert values["display_name"] == AWKWARD
    provisioner.destroy(handle)


def test_find_adopts_what_a_previous_agent_created(
    make_provisioner: Callable[..., TerraformProvisioner], new_spec: SpecFactory,
    placement: Placement,
) -> None:
    spec = new_spec()
    assert make_provisioner().find(spec) is None
    created = make_provisioner().create(spec, placement)

    restarted = make_provisioner()  # a new agent process: nothing in memory
    found = restarted.find(spec)

    assert found == created
    assert restarted.refresh(found).exists
    restarted.destroy(found)


def test_remote_state_rebuilds_a_lost_workspace(
    make_provisioner: Callable[..., TerraformProvisioner], http_backend: BackendConfig,
    state_server: Any, new_spec: SpecFactory, placement: Placement, root: Path,
) -> None:
    spec = new_spec()
    created = make_provisioner(backend=http_backend).create(spec, placement)
    shutil.rmtree(root)  # the agent moved to a host with an empty disk

    other_host = make_provisioner(backend=http_backend)
    found = other_host.find(spec)
    assert found is not None
    assert found.data["meta"] == created.data["meta"]
    assert found.data["variables"] == created.data["variables"]
    assert found.data["outputs"] == created.data["outputs"]
    shutil.rmtree(root)
    assert other_host.refresh(created).instance_id == created.data["outputs"]["instance_id"]

    shutil.rmtree(root)
    other_host.destroy(created)
    assert state_server.resources(created.name) == []
    assert list(root.iterdir()) == []


def test_unsupported_placement_has_no_side_effect(
    provisioner: TerraformProvisioner, new_spec: SpecFactory, root: Path,
) -> None:
    elsewhere = Placement(cloud="aws", region="us-east-1", instance_type="g5.xlarge")
    with pytest.raises(Unsupported):
        provisioner.create(new_spec(), elsewhere)
    spot = Placement(cloud="test", region="local", instance_type="t", spot=True)
    with pytest.raises(Unsupported, match="spot"):
        provisioner.create(new_spec(), spot)  # the deployment does not accept spot
    assert not root.exists()
    assert sum(provisioner.operations.values()) == 0


@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary on PATH")
def test_terraform_binary_engine_works_too(
    make_provisioner: Callable[..., TerraformProvisioner], new_spec: SpecFactory,
    placement: Placement, root: Path,
) -> None:
    binary = shutil.which("terraform")
    assert binary is not None
    provisioner = make_provisioner(engine=BinaryEngine(binary))
    handle = provisioner.create(new_spec(), placement)
    assert handle.data["outputs"]["endpoint_url"] == "http://127.0.0.1:11434"
    provisioner.destroy(handle)
    assert list(root.iterdir()) == []


@pytest.mark.slow
def test_a_hung_apply_is_interrupted_and_rolled_back(
    make_provisioner: Callable[..., TerraformProvisioner], new_spec: SpecFactory,
    placement: Placement, root: Path,
) -> None:
    options = TerraformOptions(state_lock_timeout_s=0, command_timeout_s=1.5,
                               interrupt_grace_s=20)
    provisioner = make_provisioner(options=options)
    with pytest.raises(ProvisioningFailed, match="timed out"):
        provisioner.create(new_spec(apply_delay_seconds=30), placement)
    assert list(root.iterdir()) == []


def test_slots_are_separate_workspaces_found_together(
    provisioner: TerraformProvisioner, new_spec: SpecFactory, placement: Placement, root: Path,
    local_state: StateReader,
) -> None:
    first_spec = new_spec()
    second_spec = dataclasses.replace(first_spec, slot="s1")
    first = provisioner.create(first_spec, placement)
    second = provisioner.create(second_spec, placement)

    assert (first.name, second.name) == (f"fl-{first_spec.deployment_id}",
                                         f"fl-{first_spec.deployment_id}-s1")
    assert second.deployment_id == first_spec.deployment_id and second.data["slot"] == "s1"
    assert second.data["variables"]["deployment_name"] == second.name
    assert second.data["outputs"]["echo"]["tags"]["flowllama:deployment"] == \
        first_spec.deployment_id  # tags keep the deployment id
    assert provisioner.operations["apply"] == 2
    assert servers(local_state(root / first.name)) == servers(local_state(root / second.name)) == 1
    assert [h.name for h in provisioner.find_all(first_spec)] == [first.name, second.name]
    assert provisioner.find(second_spec) is not None

    provisioner.destroy(first)  # the replaced server goes, its replacement stays
    assert provisioner.refresh(second).running
    assert [h.name for h in provisioner.find_all(second_spec)] == [second.name]
    provisioner.destroy(second)
    assert provisioner.find_all(first_spec) == []
