"""The local provisioner across process deaths and restarts, on the real llama.cpp server: a
runtime killed from outside, a FlowLlama killed mid-flight (its runtime is adopted),
``shutdown`` then ``recover`` (relaunch what was live, stop what nobody owns), no launch between
them (a heal still running when FlowLlama exits), and the sweep of runtimes nobody owns."""

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

import httpx
import pytest

from flowllama.errors import ProvisioningFailed
from flowllama.providers import DeploymentSpec, Handle
from flowllama.providers.local import LOCAL_PLACEMENT, LocalProvisioner, procfs, supervision
from flowllama.providers.local.records import LocalRecord
from tiny_model import port_is_free

MakeProvisioner = Callable[..., LocalProvisioner]


def _spec(deployment_id: str = "d1") -> DeploymentSpec:
    return DeploymentSpec(deployment_id=deployment_id, user_id="u1", name="chat",
                          model="local/tiny", context_size=512)


def _chat(endpoint_url: str) -> dict[str, Any]:
    response = httpx.post(f"{endpoint_url}/chat/completions", timeout=60, json={
        "model": "local/tiny", "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 4,
    })
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _session_of(handle: Handle) -> list[procfs.ProcessInfo]:
    return procfs.session_members(handle.data["pid"], handle.data["start_time"])


def _wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_a_supervisor_stopped_from_outside_shows_in_refresh_and_logs(
    make_provisioner: MakeProvisioner,
) -> None:
    provisioner = make_provisioner()
    handle = provisioner.create(_spec(), LOCAL_PLACEMENT)
    os.kill(handle.data["pid"], signal.SIGTERM)
    assert _wait_for(lambda: _session_of(handle) == [], timeout_s=30)

    state = provisioner.refresh(handle)
    assert state.exists and not state.running
    assert f"supervisor pid {handle.data['pid']} is gone" in state.detail
    assert "runtime exited with signal 15" in state.detail  # the log's last lines
    lines = provisioner.logs("d1", 3)
    assert len(lines) == 3 and "runtime exited with signal 15" in lines[-1]

    again = provisioner.create(_spec(), LOCAL_PLACEMENT)  # heals: a fresh process
    assert again.data["pid"] != handle.data["pid"]
    assert provisioner.refresh(again).running


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_a_sigkilled_supervisor_leaves_no_orphan_runtime(make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    handle = provisioner.create(_spec(), LOCAL_PLACEMENT)
    runtime = next(p for p in _session_of(handle) if p.pid != handle.data["pid"])
    os.kill(handle.data["pid"], signal.SIGKILL)
    assert _wait_for(lambda: not procfs.is_alive(runtime.pid, runtime.start_time), timeout_s=15)
    assert _wait_for(lambda: port_is_free(handle.data["port"]), timeout_s=15)
    assert not provisioner.refresh(handle).running


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_a_restarted_flowllama_adopts_the_live_runtime(
    make_provisioner: MakeProvisioner, root: Path, models_dir: Path
) -> None:
    make_provisioner()  # registers the root for clean-up
    handle = _create_in_killed_child(root, models_dir)
    assert supervision.alive(handle.data["pid"], handle.data["start_time"])  # outlived its parent

    restarted = make_provisioner()
    assert restarted.find(_spec()) == handle
    assert restarted.recover({"d1"}) == []  # live: adopted as it is
    state = restarted.refresh(handle)
    assert state.running
    assert restarted.create(_spec(), LOCAL_PLACEMENT) == handle
    assert [s.pid for s in supervision.find_supervisors(root)] == [handle.data["pid"]]
    assert _chat(state.endpoint_url or "")["usage"]["completion_tokens"] == 4
    restarted.destroy(handle)
    assert _session_of(handle) == [] and port_is_free(handle.data["port"])


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_shutdown_stops_everything_and_recover_relaunches(
    make_provisioner: MakeProvisioner,
) -> None:
    provisioner = make_provisioner()
    handle = provisioner.create(_spec(), LOCAL_PLACEMENT)
    provisioner.shutdown()
    assert _session_of(handle) == []
    assert supervision.find_supervisors(provisioner.root) == []
    assert port_is_free(handle.data["port"])
    state = provisioner.refresh(handle)
    assert state.exists and not state.running and "shutdown" in state.detail

    restarted = make_provisioner()
    assert restarted.recover({"d1"}) == ["d1"]
    assert _wait_for(lambda: restarted.refresh(handle).running)
    state = restarted.refresh(handle)
    assert state.endpoint_url == f"http://127.0.0.1:{handle.data['port']}/v1"  # same port
    assert _chat(state.endpoint_url)["usage"]["completion_tokens"] == 4
    assert restarted.create(_spec(), LOCAL_PLACEMENT).data["pid"] != handle.data["pid"]


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_recover_stops_what_no_live_deployment_owns(
    make_provisioner: MakeProvisioner, tmp_path: Path
) -> None:
    provisioner = make_provisioner()
    live = provisioner.create(_spec("live"), LOCAL_PLACEMENT)
    provisioner.shutdown()
    # The stopped record of a deployment deleted while FlowLlama was down...
    store = provisioner.instances.store
    store.save(replace(store.load("live"), deployment_id="gone"))  # type: ignore[type-var]
    # ...and supervisors nobody recorded (a FlowLlama killed between spawning and recording):
    # one for a deleted deployment, one duplicating the live one. Their runtime is cheap.
    strays = [_spawn_sleeping_supervisor(provisioner.root, deployment, tmp_path)
              for deployment in ("gone", "live")]

    assert provisioner.recover({"live"}) == ["live"]
    for stray in strays:
        assert procfs.session_members(stray.pid, stray.start_time) == []
    assert provisioner.find(_spec("gone")) is None
    assert _wait_for(lambda: provisioner.refresh(live).running)
    assert len(supervision.find_supervisors(provisioner.root)) == 1

    relaunched = provisioner.recover(set())  # nothing is live any more
    assert relaunched == []
    assert supervision.find_supervisors(provisioner.root) == []
    assert provisioner.find(_spec("live")) is None


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_nothing_launches_after_shutdown_until_recover(make_provisioner: MakeProvisioner) -> None:
    # The race behind a healed runtime outliving `flowllama up`: a heal step still creating
    # its replacement after shutdown stopped every runtime would launch one nobody stops.
    provisioner = make_provisioner()
    provisioner.shutdown()
    with pytest.raises(ProvisioningFailed, match="shutting down"):
        provisioner.create(_spec(), LOCAL_PLACEMENT)
    assert supervision.find_supervisors(provisioner.root) == []

    provisioner.recover({"d1"})
    handle = provisioner.create(_spec(), LOCAL_PLACEMENT)
    assert provisioner.refresh(handle).running


def test_stop_orphans_stops_runtimes_no_live_deployment_owns(
    make_provisioner: MakeProvisioner, tmp_path: Path
) -> None:
    provisioner = make_provisioner()
    orphan = _spawn_sleeping_supervisor(provisioner.root, "no-such-deployment", tmp_path)
    owned = _spawn_sleeping_supervisor(provisioner.root, "live", tmp_path)
    provisioner.instances.store.save(LocalRecord(
        deployment_id="live", user_id="u1", name="n", model="local/tiny",
        requested_runtime="auto", runtime="llamacpp", context_size=512, parallel=1,
        boot_id=provisioner.instances.boot_id, pid=owned.pid, start_time=owned.start_time,
        port=1, endpoint_url="http://127.0.0.1:1", openai_base_url="http://127.0.0.1:1/v1",
        health_url="http://127.0.0.1:1/v1/models", log_path="/nonexistent.log", needed_bytes=1))
    asked: list[str] = []

    def live() -> set[str]:
        asked.append("live")
        return {"live"}

    assert provisioner.stop_orphans(live) == []  # the orphan had no record to forget
    assert asked == ["live"]
    assert procfs.session_members(orphan.pid, orphan.start_time) == []
    assert [s.deployment_id for s in supervision.find_supervisors(provisioner.root)] == ["live"]

    assert provisioner.stop_orphans(set) == ["live"]  # deleted meanwhile
    assert supervision.find_supervisors(provisioner.root) == []


_CHILD = """
import json, os, signal, sys
from pathlib import Path
from flowllama.providers import DeploymentSpec
from flowllama.providers.local import LOCAL_PLACEMENT, LocalOptions, LocalProvisioner

provisioner = LocalProvisioner(Path(sys.argv[1]), Path(sys.argv[2]),
                               LocalOptions(threads=1, health_timeout_s=60))
spec = DeploymentSpec(deployment_id="d1", user_id="u1", name="chat", model="local/tiny",
                      context_size=512)
handle = provisioner.create(spec, LOCAL_PLACEMENT)
print("HANDLE " + json.dumps(handle.to_dict()), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # FlowLlama dies without any clean-up
"""


def _create_in_killed_child(root: Path, models_dir: Path) -> Handle:
    result = subprocess.run([sys.executable, "-c", _CHILD, str(root), str(models_dir)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("HANDLE "))
    return Handle.from_dict(json.loads(line.removeprefix("HANDLE ")))


def _spawn_sleeping_supervisor(root: Path, deployment_id: str,
                               tmp_path: Path) -> supervision.Supervised:
    command = supervision.supervisor_command(
        python=sys.executable, root=root, deployment_id=deployment_id,
        log_file=tmp_path / f"stray-{deployment_id}.log", max_bytes=1 << 20, backups=1,
        runtime_command=["sleep", "120"],
    )
    return supervision.spawn(deployment_id, command, {"PATH": "/usr/bin:/bin"}, tmp_path)
