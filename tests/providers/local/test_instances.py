"""Process bookkeeping that must never touch a process that is not ours, and the memory held for
deployments still loading. Supervisors here run ``sleep``: no model server needed."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowllama.providers.local import procfs, supervision
from flowllama.providers.local.instances import LocalInstances
from flowllama.providers.local.options import LocalOptions
from flowllama.providers.local.records import LocalRecord, StopReason

GIB = 1024**3


@pytest.fixture
def instances(tmp_path: Path, fast: LocalOptions) -> Iterator[LocalInstances]:
    managed = LocalInstances(tmp_path / "local", tmp_path / "models", fast)
    yield managed
    managed.stop_all(StopReason.SHUTDOWN)


def _record(instances: LocalInstances, deployment_id: str, pid: int, start_time: int,
            **changes: object) -> LocalRecord:
    fields: dict[str, object] = {
        "deployment_id": deployment_id, "user_id": "u1", "name": "n", "model": "local/tiny",
        "requested_runtime": "auto", "runtime": "llamacpp", "context_size": 512, "parallel": 1,
        "boot_id": instances.boot_id, "pid": pid, "start_time": start_time, "port": 1,
        "endpoint_url": "http://127.0.0.1:1", "openai_base_url": "http://127.0.0.1:1/v1",
        "health_url": "http://127.0.0.1:1/v1/models", "log_path": "/nonexistent.log",
        "needed_bytes": GIB, **changes,
    }
    return instances.store.save(LocalRecord(**fields))  # type: ignore[arg-type]


def _sleeping_supervisor(instances: LocalInstances, deployment_id: str) -> supervision.Supervised:
    instances.root.mkdir(parents=True, exist_ok=True)
    command = supervision.supervisor_command(
        python=sys.executable, root=instances.root, deployment_id=deployment_id,
        log_file=instances.root / f"{deployment_id}.log", max_bytes=1 << 20, backups=1,
        runtime_command=["sleep", "120"],
    )
    return supervision.spawn(deployment_id, command, {"PATH": "/usr/bin:/bin"}, instances.root)


def test_a_record_from_another_boot_is_gone_and_never_signalled(instances: LocalInstances) -> None:
    # The pid and start time of this very test process, but recorded before a reboot.
    me = procfs.read_process(os.getpid())
    assert me is not None
    record = _record(instances, "d1", me.pid, me.start_time, boot_id="an-earlier-boot")
    assert instances.identity(record) is None and not instances.alive(record)
    assert instances.stop("d1") == record  # forgotten, and this process is still here
    assert instances.store.load("d1") is None


def test_a_reused_pid_is_gone_and_never_signalled(instances: LocalInstances) -> None:
    me = procfs.read_process(os.getpid())
    assert me is not None
    record = _record(instances, "d1", me.pid, me.start_time - 1)
    assert not instances.alive(record)
    instances.stop("d1")
    assert instances.reserved_bytes() == 0


def test_memory_is_reserved_for_a_live_deployment_until_it_holds_it(
    instances: LocalInstances,
) -> None:
    started = _sleeping_supervisor(instances, "loading")
    _record(instances, "loading", started.pid, started.start_time, needed_bytes=10 * GIB)
    _record(instances, "dead", 2**22 + 1, 1, needed_bytes=10 * GIB)
    reserved = instances.reserved_bytes()
    assert 9 * GIB < reserved < 10 * GIB  # what it needs less the little it holds now
    assert instances.reserved_bytes(exclude="loading") == 0


def test_stop_all_keeps_records_as_stopped_and_stop_except_forgets(
    instances: LocalInstances,
) -> None:
    started = _sleeping_supervisor(instances, "d1")
    _record(instances, "d1", started.pid, started.start_time)
    stray = _sleeping_supervisor(instances, "d2")
    assert instances.stop_all(StopReason.SHUTDOWN) == ["d1"]
    assert procfs.session_members(started.pid, started.start_time) == []
    assert procfs.session_members(stray.pid, stray.start_time) == []
    stopped = instances.store.load("d1")
    assert stopped is not None and stopped.stopped_by is StopReason.SHUTDOWN
    assert instances.stop_except({"d1"}) == []
    assert instances.store.load("d1") == stopped
    assert instances.stop_except(set()) == ["d1"]
    assert instances.store.all() == []
