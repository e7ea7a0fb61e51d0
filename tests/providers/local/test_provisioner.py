"""The local provisioner end to end, with the real llama.cpp server on the tiny GGUF model (and a
fake ``ollama`` program for the Ollama path): every refusal before anything starts; create,
serve, adopt, observe and destroy; failures after a launch. Restarts and process deaths are in
``test_provisioner_restart.py``."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowllama.catalog.models import ModelCatalog, default_catalog
from flowllama.errors import NotYetTerminated, ProvisioningFailed, StepAbandoned
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


def _nothing_started(provisioner: LocalProvisioner, spec: DeploymentSpec) -> bool:
    return (supervision.find_supervisors(provisioner.root) == []
            and provisioner.find(spec) is None)


# -- contract basics ---------------------------------------------------------------------------

def test_capabilities(make_provisioner: MakeProvisioner) -> None:
    provisioner = make_provisioner()
    assert provisioner.kind == "local"
    assert provisioner.capabilities.clouds == {"local"}
    assert provisioner.capabilities.features == {Capability.ADOPT}
    expected = Placement(cloud="local", region="localhost", instance_type="local-process",
                         price_per_hour=0.0)
    assert expected == LOCAL_PLACEMENT


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
def test_a_preparation_whose_caller_lost_the_deployment_leaves_the_runtime(
    make_provisioner: MakeProvisioner, ollama_options: Callable[..., LocalOptions],
    fake_ollama_executable: Path,
) -> None:
    # The agent's step lost its lease in the middle of the download: the runtime may be the
    # new lease holder's now, so it is neither stopped nor forgotten, only left to adopt.
    def lease_lost(_deployment: str, _step: PullProgress) -> None:
        raise StepAbandoned("the lease on d1 was lost")

    provisioner = make_provisioner(
        options=ollama_options(fake_ollama_executable, read_memory=lambda: BIG_MACHINE),
        on_progress=lease_lost,
    )
    spec = _spec(model="qwen2.5:0.5b")
    with pytest.raises(StepAbandoned):
        provisioner.create(spec, LOCAL_PLACEMENT)
    handle = provisioner.find(spec)
    assert handle is not None
    state = provisioner.refresh(handle)
    assert state.running
    # The detail is for the deployment's owner: it names no address of the runtime.
    assert "127.0.0.1" not in state.detail and str(handle.data["port"]) not in state.detail
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
