"""The local provisioner end to end, with the real llama.cpp server on the tiny GGUF model (and a
fake ``ollama`` program for the Ollama path): create, serve, adopt, observe, destroy, shut down
and recover, and every refusal before anything starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowllama.catalog.models import ModelCatalog, default_catalog
from flowllama.errors import NotYetTerminated, ProvisioningFailed
from flowllama.providers import Capability, DeploymentSpec, Handle, Placement, Unsupported
from flowllama.providers.local import (
    LOCAL_PLACEMENT,
    LocalOptions,
    LocalProvisioner,
    MachineTooSmall,
    MemorySnapshot,
    NotEnoughMemory,
    procfs,
    supervision,
)
from flowllama.runtimes import (
    ModelNotFound,
    PullProgress,
    RuntimeExited,
    RuntimeNotInstalled,
)
from tiny_model import port_is_free

MakeProvisioner = Callable[..., LocalProvisioner]
GIB = 1024**3
BIG_MACHINE = MemorySnapshot(64 * GIB, 64 * GIB, "test")


def _spec(deployment_id: str = "d1", model: str = "local/tiny", **changes: Any) -> DeploymentSpec:
    fields: dict[str, Any] = {"context_size": 512, **changes}
    return DeploymentSpec(deployment_id=deployment_id, user_id="u1", name="chat", model=model,
                          **fields)


def _chat(endpoint_url: str, model: str = "local/tiny") -> dict[str, Any]:
    response = httpx.post(f"{endpoint_url}/chat/completions", timeout=60, json={
        "model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4,
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


def _nothing_started(provisioner: LocalProvisioner, spec: DeploymentSpec) -> bool:
    return (supervision.find_supervisors(provisioner.root) == []
            and provisioner.find(spec) is None)


# -- contract basics ---------------------------------------------------------------------------

def test_capabilities_and_plan(make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    assert provisioner.kind == "local"
    assert provisioner.capabilities.clouds == {"local"}
    assert provisioner.capabilities.features == {Capability.ADOPT}
    expected = Placement(cloud="local", region="localhost", instance_type="local-process")
    assert expected == LOCAL_PLACEMENT
    assert provisioner.plan(_spec()) == [LOCAL_PLACEMENT]
    assert provisioner.plan(_spec(gpu="A100")) == []  # no GPU here


@pytest.mark.parametrize("placement", [
    Placement(cloud="aws", region="us-east-1", instance_type="g5.xlarge"),
    replace(LOCAL_PLACEMENT, spot=True),
    replace(LOCAL_PLACEMENT, gpu="L4", gpu_count=1),
])
def test_placements_it_cannot_serve_are_refused_before_anything_starts(
    make_provisioner: MakeProvisioner, placement: Placement
) -> None:
    provisioner = make_provisioner()
    with pytest.raises(Unsupported) as caught:
        provisioner.create(_spec(spot=True), placement)
    assert not caught.value.retryable
    assert _nothing_started(provisioner, _spec())


@pytest.mark.parametrize("model", [
    "local/../tiny", "local/../../etc/passwd", "local//etc/passwd", "local/sub/tiny",
    "/etc/passwd", "../tiny", "local/tiny/../tiny", "local/%2e%2e/tiny",
])
def test_a_model_name_never_reaches_outside_the_models_dir(
    make_provisioner: MakeProvisioner, tmp_path: Path, tiny_model_file: Path, model: str
) -> None:
    # A real GGUF file sits right outside the models dir, where "../" would find it.
    models = tmp_path / "models"
    models.mkdir()
    (tmp_path / "tiny.gguf").write_bytes(tiny_model_file.read_bytes())
    provisioner = make_provisioner(models_dir=models)
    with pytest.raises(Unsupported, match=r"not a valid model name|not a local model") as caught:
        provisioner.create(_spec(model=model), LOCAL_PLACEMENT)
    assert not caught.value.retryable
    assert _nothing_started(provisioner, _spec())


def test_unknown_models_are_refused_with_the_reason(make_provisioner: MakeProvisioner,
                                                    models_dir: Path) -> None:
    provisioner = make_provisioner()
    with pytest.raises(Unsupported, match=r"nope\.gguf, which does not exist"):
        provisioner.create(_spec(model="local/nope"), LOCAL_PLACEMENT)
    with pytest.raises(Unsupported, match="Unknown model 'no-such-model:7b'"):
        provisioner.create(_spec(model="no-such-model:7b"), LOCAL_PLACEMENT)
    assert _nothing_started(provisioner, _spec())


def test_a_missing_runtime_fails_at_once_with_the_install_hint(
    make_provisioner: MakeProvisioner, ollama_options: Callable[..., LocalOptions], tmp_path: Path
) -> None:
    provisioner = make_provisioner(options=ollama_options(tmp_path / "no" / "ollama",
                                                          read_memory=lambda: BIG_MACHINE))
    started = time.monotonic()
    with pytest.raises(RuntimeNotInstalled, match=r"https://ollama\.com/download") as caught:
        provisioner.create(_spec(model="qwen2.5:0.5b"), LOCAL_PLACEMENT)
    assert time.monotonic() - started < 5
    assert not caught.value.retryable
    assert _nothing_started(provisioner, _spec())


def test_too_little_memory_now_is_refused_with_the_numbers(
    make_provisioner: MakeProvisioner, fast: LocalOptions
) -> None:
    small = replace(fast, read_memory=lambda: MemorySnapshot(8 * GIB, GIB // 2, "test"))
    provisioner = make_provisioner(options=small)
    with pytest.raises(NotEnoughMemory) as caught:
        provisioner.create(_spec(), LOCAL_PLACEMENT)
    message = str(caught.value)
    assert caught.value.retryable  # memory may be free later
    assert "local/tiny with a 512-token context x 1 slot(s) needs 1.01 GiB" in message
    assert "but only 0.50 GiB (536,870,912 bytes) is free now (total 8.00 GiB" in message
    assert _nothing_started(provisioner, _spec())
    verdict = provisioner.check_capacity(_spec())
    assert not verdict.fits and verdict.message() == message


def test_a_machine_too_small_is_refused_for_good(make_provisioner: MakeProvisioner,
                                                  fast: LocalOptions) -> None:
    tiny_box = replace(fast, read_memory=lambda: MemorySnapshot(GIB // 2, GIB // 4, "test"))
    provisioner = make_provisioner(options=tiny_box)
    with pytest.raises(MachineTooSmall, match=r"more than this machine's total of 0\.50 GiB") as e:
        provisioner.create(_spec(), LOCAL_PLACEMENT)
    assert not e.value.retryable
    assert _nothing_started(provisioner, _spec())


def test_nothing_to_find_refresh_or_destroy(make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    assert provisioner.find(_spec()) is None
    handle = Handle(kind="local", deployment_id="d1", name="fl-d1")
    assert not provisioner.refresh(handle).exists
    provisioner.destroy(handle)  # idempotent: nothing there is success
    assert provisioner.logs("d1", 10) == []


# -- the real runtime --------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_create_serves_chat_then_destroy_leaves_nothing(make_provisioner: MakeProvisioner) -> None:
    progress: list[tuple[str, PullProgress]] = []
    provisioner = make_provisioner(on_progress=lambda d, p: progress.append((d, p)))
    handle = provisioner.create(_spec(), LOCAL_PLACEMENT)
    port = handle.data["port"]
    assert (handle.kind, handle.deployment_id, handle.name) == ("local", "d1", "fl-d1")
    assert progress == [("d1", PullProgress("ready", 1.0))]

    state = provisioner.refresh(handle)
    assert state.exists and state.running
    assert state.endpoint_url == f"http://127.0.0.1:{port}/v1"
    assert state.instance_id == f"pid-{handle.data['pid']}"
    body = _chat(state.endpoint_url)
    assert body["model"] == "local/tiny"
    assert body["usage"]["completion_tokens"] == 4
    assert provisioner.find(_spec()) == handle
    assert len(_session_of(handle)) == 2  # the supervisor and its runtime

    provisioner.destroy(handle)
    assert _session_of(handle) == []
    assert supervision.find_supervisors(provisioner.root) == []
    assert port_is_free(port)
    assert not provisioner.refresh(handle).exists
    assert provisioner.find(_spec()) is None
    provisioner.destroy(handle)  # again: still fine
    # The log outlives the process, for "why did it stop?".
    assert "runtime exited with signal 15" in provisioner.logs("d1", 5)[-1]


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_create_twice_is_one_process(make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    first = provisioner.create(_spec(), LOCAL_PLACEMENT)
    second = provisioner.create(_spec(), LOCAL_PLACEMENT)
    assert second == first
    assert [s.pid for s in supervision.find_supervisors(provisioner.root)] == [first.data["pid"]]


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_concurrent_creates_launch_once_per_deployment(make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    with ThreadPoolExecutor(3) as pool:  # as the agent's workers might, on a re-delivered job
        a1, a2, b = pool.map(lambda d: provisioner.create(_spec(d), LOCAL_PLACEMENT),
                             ["a", "a", "b"])
    assert a1 == a2
    assert a1.data["port"] != b.data["port"]
    assert sorted(s.pid for s in supervision.find_supervisors(provisioner.root)) == sorted(
        [a1.data["pid"], b.data["pid"]])
    assert provisioner.refresh(a1).running and provisioner.refresh(b).running


@pytest.mark.slow
@pytest.mark.usefixtures("llamacpp")
def test_a_changed_spec_replaces_the_runtime(make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    old = provisioner.create(_spec(), LOCAL_PLACEMENT)
    new = provisioner.create(_spec(context_size=256), LOCAL_PLACEMENT)
    assert new.data["pid"] != old.data["pid"]
    assert _session_of(old) == []
    assert new.data["port"] == old.data["port"]  # the endpoint stays where it was
    assert provisioner.refresh(new).running


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


# -- failures after a launch -------------------------------------------------------------------

@pytest.mark.slow
def test_a_runtime_dying_at_start_reports_its_last_lines(
    make_provisioner: MakeProvisioner, ollama_options: Callable[..., LocalOptions],
    dying_ollama_executable: Path,
) -> None:
    provisioner = make_provisioner(options=ollama_options(dying_ollama_executable,
                                                          read_memory=lambda: BIG_MACHINE))
    started = time.monotonic()
    with pytest.raises(RuntimeExited) as caught:
        provisioner.create(_spec(model="qwen2.5:0.5b"), LOCAL_PLACEMENT)
    assert time.monotonic() - started < 30  # reported at once, not after the health timeout
    assert isinstance(caught.value, ProvisioningFailed)
    message = str(caught.value)
    assert "exited with code 1" in message
    assert "Error: could not create blob directory: permission denied" in message
    assert _nothing_started(provisioner, _spec())


@pytest.mark.slow
def test_the_ollama_path_pulls_with_progress(
    make_provisioner: MakeProvisioner, ollama_options: Callable[..., LocalOptions],
    fake_ollama_executable: Path,
) -> None:
    progress: list[tuple[str, PullProgress]] = []
    provisioner = make_provisioner(
        options=ollama_options(fake_ollama_executable, read_memory=lambda: BIG_MACHINE),
        on_progress=lambda deployment, step: progress.append((deployment, step)),
    )
    handle = provisioner.create(_spec(model="qwen2.5:0.5b", parallel=2), LOCAL_PLACEMENT)
    assert {deployment for deployment, _ in progress} == {"d1"}
    fractions = [step.fraction for _, step in progress if step.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert progress[-1][1].status == "ready"
    state = provisioner.refresh(handle)
    assert state.running and state.endpoint_url == f"http://127.0.0.1:{handle.data['port']}/v1"
    env = httpx.get(f"http://127.0.0.1:{handle.data['port']}/fake/env", timeout=10).json()["env"]
    assert env["OLLAMA_NUM_PARALLEL"] == "2" and env["OLLAMA_CONTEXT_LENGTH"] == "512"
    provisioner.destroy(handle)
    assert port_is_free(handle.data["port"])


@pytest.mark.slow
def test_a_failed_pull_leaves_nothing_behind(
    make_provisioner: MakeProvisioner, ollama_options: Callable[..., LocalOptions],
    fake_ollama_executable: Path,
) -> None:
    base = default_catalog()
    catalog = ModelCatalog([*base.all(), replace(base.get("qwen2.5:0.5b"),
                                                 name="missing-model:0.5b")])
    provisioner = make_provisioner(
        options=ollama_options(fake_ollama_executable, read_memory=lambda: BIG_MACHINE),
        catalog=catalog,
    )
    with pytest.raises(ModelNotFound, match="file does not exist") as caught:
        provisioner.create(_spec(model="missing-model:0.5b"), LOCAL_PLACEMENT)
    assert not caught.value.retryable
    assert _nothing_started(provisioner, _spec())


@pytest.mark.slow
def test_destroy_says_so_while_a_process_survives(
    make_provisioner: MakeProvisioner, ollama_options: Callable[..., LocalOptions],
    fake_ollama_executable: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    provisioner = make_provisioner(
        options=ollama_options(fake_ollama_executable, read_memory=lambda: BIG_MACHINE))
    handle = provisioner.create(_spec(model="qwen2.5:0.5b"), LOCAL_PLACEMENT)
    with monkeypatch.context() as patched:  # a process in uninterruptible sleep, say
        patched.setattr(supervision, "terminate", lambda targets, *_: [False] * len(targets))
        with pytest.raises(NotYetTerminated):
            provisioner.destroy(handle)
    assert provisioner.find(_spec()) == handle  # kept, so the retry finds it
    provisioner.destroy(handle)
    assert provisioner.find(_spec()) is None and _session_of(handle) == []


# -- helpers -----------------------------------------------------------------------------------

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
