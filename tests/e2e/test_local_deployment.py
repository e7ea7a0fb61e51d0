"""End to end through a real ``flowllama up``: register, log in, deploy ``local/tiny``, wait for
``running``, chat with the official ``openai`` client (plain and streaming) at the endpoint the
API shows (the gateway, with an API key), read the logs, stop, start, restart, delete; after stop
and delete the process is gone and its port free, and after SIGTERM nothing of FlowLlama is left
running. Only the gateway and the monitor get answers from the runtime itself, llama.cpp (which
serves the tiny random-weight GGUF for real) or a local Ollama (the fake one, isolated behind its
keyed front)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from flowllama.providers.local import isolation
from flowllama.providers.local.supervision import find_supervisors
from flowllama.runtimes import LlamaCppRuntime
from processes import (
    TIMEOUT_S,
    Api,
    UpProcess,
    chat_with_openai,
    flowllama_up,
    local_env,
    runtime_record,
    wait_answering,
)
from tiny_model import port_is_free

pytestmark = pytest.mark.slow

FAKE_OLLAMA = Path(__file__).resolve().parents[1] / "runtimes" / "fake_ollama.py"



@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    with flowllama_up(tmp_path, local_env(tiny_model_file.parent)) as running:
        yield running


def _gone(up: UpProcess, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not find_supervisors(up.data_dir / "local") and port_is_free(port):
            return
        time.sleep(0.2)
    raise AssertionError(f"runtime still there: {find_supervisors(up.data_dir / 'local')}")


def test_deploy_chat_stop_start_delete(up: UpProcess) -> None:
    api = Api(up.base_url)
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    deployment_id = created.json()["id"]

    running = api.wait_status(deployment_id, "running")
    assert (running["price_per_hour"], running["cost_so_far_usd"]) == (0.0, 0.0)
    assert (running["endpoint_url"], running["endpoint_model"]) == (f"{up.base_url}/v1", "tiny")
    assert [i["endpoint_url"] for i in running["instances"]] == [None]  # operators only
    port = runtime_record(up, deployment_id).port
    key = api.create_key()
    chat_with_openai(running, key)
    logs = api.http.get(f"/api/deployments/{deployment_id}/logs", params={"tail": 50}).json()
    assert logs["source"] == "local" and logs["lines"]

    api.act(deployment_id, "stop")
    api.wait_status(deployment_id, "stopped")
    _gone(up, port)

    api.act(deployment_id, "start")
    chat_with_openai(api.wait_status(deployment_id, "running"), key)

    restarted = api.http.post(f"/api/deployments/{deployment_id}/restart")
    assert restarted.status_code == 202 and restarted.json()["status"] == "stopping"
    chat_with_openai(api.wait_status(deployment_id, "running"), key)
    port = runtime_record(up, deployment_id).port
    timeline = [e["to_status"] for e in api.http.get(
        f"/api/deployments/{deployment_id}/events").json()]
    assert timeline.count("running") == 3 and timeline.count("stopped") == 2

    assert api.http.delete(f"/api/deployments/{deployment_id}").status_code == 202
    deadline = time.monotonic() + TIMEOUT_S
    while api.http.get(f"/api/deployments/{deployment_id}").status_code != 404:
        assert time.monotonic() < deadline, "the deployment was never deleted"
        time.sleep(0.3)
    _gone(up, port)
    assert api.http.get("/api/deployments").json()["total"] == 0

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0


def test_stopping_up_stops_runtimes_and_the_next_start_brings_them_back(
        up: UpProcess, tmp_path: Path, tiny_model_file: Path) -> None:
    api = Api(up.base_url)
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    deployment_id = created.json()["id"]
    api.wait_status(deployment_id, "running")
    port = runtime_record(up, deployment_id).port
    key = api.create_key()

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0
    _gone(up, port)  # no orphan runtime after `flowllama up` stops

    with flowllama_up(tmp_path, local_env(tiny_model_file.parent)) as again:
        deadline = time.monotonic() + TIMEOUT_S
        while not find_supervisors(again.data_dir / "local"):
            assert time.monotonic() < deadline, "the runtime was not relaunched"
            time.sleep(0.3)
        api = Api(again.base_url, register=False)
        running = api.wait_status(deployment_id, "running")
        wait_answering(running, key)
        chat_with_openai(running, key)
        again.process.send_signal(signal.SIGTERM)
        assert again.process.wait(60) == 0
        _gone(again, runtime_record(again, deployment_id).port)


def test_only_the_gateway_and_the_monitor_get_answers_from_a_runtime(
        tmp_path: Path, tiny_model_file: Path) -> None:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    # A fast monitor that calls a runtime unhealthy at its first failed check.
    monitor = {"FLOWLLAMA_MONITOR__INTERVAL_S": "0.3",
               "FLOWLLAMA_MONITOR__FAILURES_BEFORE_UNHEALTHY": "1"}
    with flowllama_up(tmp_path, local_env(tiny_model_file.parent, **monitor)) as up:
        _only_gateway_and_monitor(up)


def test_only_the_gateway_and_the_monitor_get_answers_from_a_local_ollama(
        tmp_path: Path) -> None:
    reason = isolation.unavailable_reason(sys.executable)
    if reason is not None:
        pytest.skip(f"this machine cannot isolate a local Ollama: {reason}")
    # The fake Ollama (tests/runtimes/fake_ollama.py) is the `ollama` on PATH.
    fake = tmp_path / "fake-bin" / "ollama"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport runpy\n"
                    f"runpy.run_path({str(FAKE_OLLAMA)!r}, run_name='__main__')\n")
    fake.chmod(0o755)
    env = local_env(tmp_path / "models", FLOWLLAMA_MONITOR__INTERVAL_S="0.3",
                    FLOWLLAMA_MONITOR__FAILURES_BEFORE_UNHEALTHY="1",
                    PATH=f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    with flowllama_up(tmp_path, env) as up:
        _only_gateway_and_monitor(up, "qwen2.5:0.5b")


def _only_gateway_and_monitor(up: UpProcess, model: str = "local/tiny") -> None:
    api = Api(up.base_url)
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": model, "context_size": 512, "cloud": "local"})
    deployment_id = created.json()["id"]
    running = api.wait_status(deployment_id, "running")
    record = runtime_record(up, deployment_id)
    assert urlsplit(record.endpoint_url).hostname == "127.0.0.1"  # loopback only
    body = {"model": model, "max_tokens": 2,
            "messages": [{"role": "user", "content": "hi"}]}
    direct = f"{record.openai_base_url}/chat/completions"
    for headers in ({}, {"Authorization": "Bearer unused"},
                    {"Authorization": f"Bearer {api.create_key()}"}):
        refused = httpx.post(direct, json=body, headers=headers, timeout=30)
        assert refused.status_code == 401, refused.text
        assert httpx.get(f"{record.openai_base_url}/models", headers=headers,
                         timeout=10).status_code == 401
    # The monitor checks it with the runtime key: check after check, it stays healthy.
    checks: set[str] = set()
    deadline = time.monotonic() + 30
    while len(checks) < 3:
        assert time.monotonic() < deadline, f"the monitor checked only {checks}"
        again = api.deployment(deployment_id)
        assert again["status"] == "running", again
        [instance] = again["instances"]
        assert instance["status"] == "healthy", instance
        checks.add(instance["last_check_at"] or "")
        checks.discard("")
        time.sleep(0.3)
    chat_with_openai(running, api.create_key())
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0
