"""A create killed with SIGKILL in the middle of its apply, then run again.

The child process plays the agent. Killing only it leaves its Terraform running (by design): the
next create waits for it and adopts the result. Killing the Terraform process too leaves a stale
state lock on a remote backend, which the next create breaks because the holder is dead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import BackendConfig, TerraformProvisioner
from flowllama.providers.terraform.workspace_lock import HolderRecord, pid_alive

pytestmark = pytest.mark.slow

SERVER = "module.stack.terraform_data.server"
CHILD = Path(__file__).with_name("create_in_child.py")
StateReader = Callable[[Path], list[dict[str, Any]]]


def start_child(root: Path, stack_dir: Path, spec: DeploymentSpec, placement: Placement,
                http_backend: str | None = None) -> subprocess.Popen[bytes]:
    config = {
        "root": str(root), "stack": str(stack_dir), "http_backend": http_backend,
        "spec": {**spec.__dict__, "extra": dict(spec.extra)},
        "placement": placement.to_dict(),
    }
    return subprocess.Popen([sys.executable, str(CHILD), json.dumps(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_apply(lock_file: Path, child: subprocess.Popen[bytes]) -> HolderRecord:
    """The workspace record once the child's Terraform is applying (and the server exists)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.poll() is None, "the child finished before it could be killed"
        try:
            record = HolderRecord(**json.loads(lock_file.read_text()))
        except (OSError, ValueError, TypeError):
            record = None
        if record is not None and record.command == "apply" and record.terraform_pid:
            time.sleep(1.0)  # the server is created at once; the boot step then sleeps
            return record
        time.sleep(0.05)
    raise AssertionError("the child never started applying")


def servers(resources: list[dict[str, Any]]) -> list[str]:
    return [r["attributes"]["id"] for r in resources if r["address"] == SERVER]


def test_killed_agent_leaves_terraform_to_finish_and_is_adopted(
    make_provisioner: Callable[..., TerraformProvisioner], new_spec: Callable[..., DeploymentSpec],
    placement: Placement, root: Path, stack: Any, local_state: StateReader,
) -> None:
    spec = new_spec(apply_delay_seconds=3)
    name = f"fl-{spec.deployment_id}"
    child = start_child(root, stack.source, spec, placement)
    record = wait_for_apply(root / f"{name}.lock", child)
    child.kill()
    child.wait()
    assert record.terraform_pid is not None and pid_alive(record.terraform_pid)

    provisioner = make_provisioner()
    handle = provisioner.create(spec, placement)  # waits for the orphaned apply, then adopts

    assert provisioner.operations["apply"] == 0
    assert len(servers(local_state(root / name))) == 1
    assert handle.data["outputs"]["endpoint_url"] == "http://127.0.0.1:11434"
    provisioner.destroy(handle)
    assert list(root.iterdir()) == []


def test_killed_agent_and_terraform_local_state_resumes_without_duplicate(
    make_provisioner: Callable[..., TerraformProvisioner], new_spec: Callable[..., DeploymentSpec],
    placement: Placement, root: Path, stack: Any, local_state: StateReader,
) -> None:
    spec = new_spec(apply_delay_seconds=4)
    name = f"fl-{spec.deployment_id}"
    child = start_child(root, stack.source, spec, placement)
    record = wait_for_apply(root / f"{name}.lock", child)
    assert record.terraform_pid is not None
    os.kill(record.terraform_pid, signal.SIGKILL)
    child.kill()
    child.wait()
    before = servers(local_state(root / name))

    provisioner = make_provisioner()
    # Same deployment without the boot delay, so the resumed apply does not wait again.
    handle = provisioner.create(replace(spec, extra={}), placement)

    assert provisioner.operations["apply"] == 1  # finishes the half-done apply
    after = servers(local_state(root / name))
    assert len(after) == 1
    assert after == before  # the server saved before the kill was kept, not created again
    provisioner.destroy(handle)
    assert list(root.iterdir()) == []


def test_killed_agent_and_terraform_remote_stale_lock_is_broken(
    make_provisioner: Callable[..., TerraformProvisioner], new_spec: Callable[..., DeploymentSpec],
    placement: Placement, root: Path, stack: Any, state_server: Any,
    http_backend: BackendConfig,
) -> None:
    spec = new_spec(apply_delay_seconds=4)
    name = f"fl-{spec.deployment_id}"
    child = start_child(root, stack.source, spec, placement, state_server.base_url)
    record = wait_for_apply(root / f"{name}.lock", child)
    assert record.terraform_pid is not None
    os.kill(record.terraform_pid, signal.SIGKILL)
    child.kill()
    child.wait()
    assert state_server.locks, "a killed Terraform leaves its remote lock behind"

    provisioner = make_provisioner(backend=http_backend)
    handle = provisioner.create(replace(spec, extra={}), placement)

    assert provisioner.operations["force-unlock"] == 1
    assert provisioner.operations["apply"] == 1
    assert len(servers(state_server.resources(name))) == 1
    assert state_server.locks == {}
    provisioner.destroy(handle)
    assert state_server.resources(name) == []
    assert list(root.iterdir()) == []
