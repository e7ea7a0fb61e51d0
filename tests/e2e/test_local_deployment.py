"""End to end through a real ``flowllama up``: register, log in, deploy ``local/tiny``, wait for
``running``, chat with the official ``openai`` client (plain and streaming), read the logs, stop,
start, restart, delete; after stop and delete the process is gone and its port free, and after
SIGTERM nothing of FlowLlama is left running. llama.cpp serves the tiny random-weight GGUF for
real."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from flowllama.providers.local.supervision import find_supervisors
from flowllama.runtimes import LlamaCppRuntime
from processes import TIMEOUT_S, Api, UpProcess, chat_with_openai, flowllama_up, local_env
from tiny_model import port_is_free

pytestmark = pytest.mark.slow



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
    endpoint = running["endpoint_url"]
    port = urlsplit(endpoint).port
    assert port is not None and urlsplit(endpoint).hostname == "127.0.0.1"
    chat_with_openai(endpoint)
    logs = api.http.get(f"/api/deployments/{deployment_id}/logs", params={"tail": 50}).json()
    assert logs["source"] == "local" and logs["lines"]

    api.act(deployment_id, "stop")
    api.wait_status(deployment_id, "stopped")
    _gone(up, port)

    api.act(deployment_id, "start")
    endpoint = api.wait_status(deployment_id, "running")["endpoint_url"]
    chat_with_openai(endpoint)

    restarted = api.http.post(f"/api/deployments/{deployment_id}/restart")
    assert restarted.status_code == 202 and restarted.json()["status"] == "stopping"
    endpoint = api.wait_status(deployment_id, "running")["endpoint_url"]
    chat_with_openai(endpoint)
    timeline = [e["to_status"] for e in api.http.get(
        f"/api/deployments/{deployment_id}/events").json()]
    assert timeline.count("running") == 3 and timeline.count("stopped") == 2

    assert api.http.delete(f"/api/deployments/{deployment_id}").status_code == 202
    deadline = time.monotonic() + TIMEOUT_S
    while api.http.get(f"/api/deployments/{deployment_id}").status_code != 404:
        assert time.monotonic() < deadline, "the deployment was never deleted"
        time.sleep(0.3)
    _gone(up, urlsplit(endpoint).port or 0)
    assert api.http.get("/api/deployments").json()["total"] == 0

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0


def test_stopping_up_stops_runtimes_and_the_next_start_brings_them_back(
        up: UpProcess, tmp_path: Path, tiny_model_file: Path) -> None:
    api = Api(up.base_url)
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    deployment_id = created.json()["id"]
    port = urlsplit(api.wait_status(deployment_id, "running")["endpoint_url"]).port or 0

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0
    _gone(up, port)  # no orphan runtime after `flowllama up` stops

    with flowllama_up(tmp_path, local_env(tiny_model_file.parent)) as again:
        deadline = time.monotonic() + TIMEOUT_S
        while not find_supervisors(again.data_dir / "local"):
            assert time.monotonic() < deadline, "the runtime was not relaunched"
            time.sleep(0.3)
        api = Api(again.base_url, register=False)
        endpoint = api.wait_status(deployment_id, "running")["endpoint_url"]
        _wait_healthy(endpoint)
        chat_with_openai(endpoint)
        again.process.send_signal(signal.SIGTERM)
        assert again.process.wait(60) == 0
        _gone(again, urlsplit(endpoint).port or 0)


def _wait_healthy(endpoint_url: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{endpoint_url}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{endpoint_url} never became healthy")
