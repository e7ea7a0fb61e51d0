"""State-lock recovery of Terraform sessions, on an HTTP backend whose locks outlive processes."""

from __future__ import annotations

import getpass
import json
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import (
    BackendConfig,
    StateLocked,
    TerraformOptions,
    TerraformProvisioner,
)
from flowllama.providers.terraform.workspace_lock import HolderRecord

Factory = Callable[..., TerraformProvisioner]


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def leave_crash_record(root: Path, name: str, record: HolderRecord) -> None:
    """What an agent killed while holding the workspace leaves in its lock file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.lock").write_text(json.dumps(asdict(record)))


def test_a_live_foreign_lock_is_left_alone(
    make_provisioner: Factory, http_backend: BackendConfig, state_server: Any,
    new_spec: Callable[..., DeploymentSpec], placement: Placement,
) -> None:
    spec = new_spec()
    name = f"fl-{spec.deployment_id}"
    state_server.seed_lock(name)
    provisioner = make_provisioner(backend=http_backend)

    with pytest.raises(StateLocked, match="foreign-lock"):
        provisioner.create(spec, placement)
    assert provisioner.operations["apply"] == 0
    assert provisioner.operations["force-unlock"] == 0
    assert state_server.locks

    state_server.locks.clear()  # its owner finished
    handle = provisioner.create(spec, placement)
    assert provisioner.operations["apply"] == 1
    provisioner.destroy(handle)


def test_lock_of_a_dead_holder_on_this_host_is_broken(
    make_provisioner: Factory, http_backend: BackendConfig, state_server: Any,
    new_spec: Callable[..., DeploymentSpec], placement: Placement, root: Path,
) -> None:
    spec = new_spec()
    name = f"fl-{spec.deployment_id}"
    this_host = f"{getpass.getuser()}@{socket.gethostname()}"
    state_server.seed_lock(name, "left-by-a-crash", who=this_host)
    record = HolderRecord(pid=dead_pid(), host=socket.gethostname(), operation="create",
                          started_at=time.time(), terraform_pid=dead_pid(), command="apply")
    leave_crash_record(root, name, record)
    provisioner = make_provisioner(backend=http_backend)

    handle = provisioner.create(spec, placement)

    assert provisioner.operations["force-unlock"] == 1
    assert state_server.locks == {}
    assert (root / f"{name}.lock").read_text() == ""  # the crash is resolved
    provisioner.destroy(handle)


def test_lock_older_than_the_maximum_age_is_broken(
    make_provisioner: Factory, http_backend: BackendConfig, state_server: Any,
    new_spec: Callable[..., DeploymentSpec], placement: Placement, root: Path,
) -> None:
    spec = new_spec()
    name = f"fl-{spec.deployment_id}"
    state_server.seed_lock(name, age_s=7200)  # another host's agent died two hours ago
    record = HolderRecord(pid=4242, host="another-host", operation="create",
                          started_at=time.time() - 7200)
    leave_crash_record(root, name, record)
    options = TerraformOptions(state_lock_timeout_s=0, max_lock_age_s=3600)

    patient = make_provisioner(backend=http_backend,
                               options=TerraformOptions(state_lock_timeout_s=0))  # 6 h
    with pytest.raises(StateLocked):
        patient.create(spec, placement)
    assert (root / f"{name}.lock").read_text(), "an unresolved crash record is kept"

    provisioner = make_provisioner(backend=http_backend, options=options)
    handle = provisioner.create(spec, placement)
    assert provisioner.operations["force-unlock"] == 1
    provisioner.destroy(handle)
    assert list(root.iterdir()) == []
