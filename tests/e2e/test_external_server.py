"""End to end through real processes, the way the Helm hook does it: a llama.cpp server on the
tiny model that FlowLlama did not start (and that wants its own API key) is registered with
``flowllama external register`` against ``flowllama up``'s database. The agent adopts it, the
monitor checks it with its key (healthy; unhealthy once registered with a stale key; healthy
again), the gateway serves it to its owner through the official ``openai`` client and meters
the usage at the registered $/h, another tenant gets 404, and deleting the deployment leaves
the server running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from factories import STRONG_PASSWORD
from flowllama.runtimes import LlamaCppRuntime, RuntimeLaunch, wait_healthy
from processes import Api, UpProcess, chat_with_openai, flowllama_up
from tiny_model import free_port, stop_process

pytestmark = pytest.mark.slow

UPSTREAM_KEY = "the-servers-own-key-0123456789"
TIMEOUT_S = 120


@pytest.fixture
def upstream(tiny_model_file: Path, tmp_path: Path
             ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """llama.cpp on the tiny model, started here (not by FlowLlama), refusing keyless calls."""
    runtime = LlamaCppRuntime()
    if not runtime.is_installed():
        pytest.skip(f"llama.cpp runtime not installed: {runtime.install_hint}")
    launch = RuntimeLaunch(port=free_port(), model="local/tiny",
                           models_dir=tiny_model_file.parent, context_size=512, threads=1,
                           api_key=UPSTREAM_KEY)
    with (tmp_path / "upstream.log").open("wb") as log:
        process = subprocess.Popen(runtime.command(launch), env=runtime.environment(launch),
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_healthy(launch.base_url, runtime.health_path, 60, process,
                     headers={"Authorization": f"Bearer {UPSTREAM_KEY}"})
        yield runtime.openai_base_url(launch), process
    finally:
        stop_process(process)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    env = {"FLOWLLAMA_AGENT__WORKERS": "1", "FLOWLLAMA_AGENT__POLL_S": "0.2",
           "FLOWLLAMA_MONITOR__INTERVAL_S": "0.5", "FLOWLLAMA_MONITOR__TIMEOUT_S": "5",
           "FLOWLLAMA_MONITOR__FAILURES_BEFORE_UNHEALTHY": "1",
           "FLOWLLAMA_MONITOR__HEAL_BACKOFF_S": "0",
           "FLOWLLAMA_GATEWAY__KEY_CACHE_TTL_S": "1", "FLOWLLAMA_GATEWAY__ROUTE_CACHE_TTL_S": "1",
           "FLOWLLAMA_GATEWAY__USAGE_FLUSH_INTERVAL_S": "0.3"}
    with flowllama_up(tmp_path, env) as running:
        yield running


def _register(up: UpProcess, base_url: str, key: str) -> dict[str, Any]:
    """``flowllama external register`` as the Helm hook runs it, the key in the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    result = subprocess.run(
        [sys.executable, "-m", "flowllama", "external", "register", "--name", "tiny",
         "--owner", "e2e@example.com", "--base-url", base_url, "--api", "openai",
         "--secret-env", "TINY_KEY", "--price-per-hour", "0.25", "--model", "local/tiny",
         "--context-size", "512", "--json", "--data-dir", str(up.data_dir)],
        env={**clean, "TINY_KEY": key}, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert key not in result.stdout + result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


def _wait(api: Api, deployment_id: str, want: str, instance_status: str) -> dict[str, Any]:
    """Until the deployment is ``want`` and its live instance was checked by the monitor."""
    deadline = time.monotonic() + TIMEOUT_S
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = api.deployment(deployment_id)
        live = [i for i in body["instances"] if i["terminated_at"] is None]
        if body["status"] == want and live and live[0]["status"] == instance_status \
                and live[0]["last_check_at"] is not None:
            return body
        time.sleep(0.3)
    raise AssertionError(f"never {want}/{instance_status}: {body}")


def _wait_not_running(api: Api, deployment_id: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while api.deployment(deployment_id)["status"] == "running":
        assert time.monotonic() < deadline, "the monitor never saw the stale key refused"
        time.sleep(0.2)


def _stranger_key(base_url: str) -> str:
    http = httpx.Client(base_url=base_url, timeout=30)
    assert http.post("/api/auth/register", json={
        "email": "eve@example.com", "password": STRONG_PASSWORD}).status_code == 201
    tokens = http.post("/api/auth/login", json={"email": "eve@example.com",
                                                "password": STRONG_PASSWORD}).json()
    http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    key: str = http.post("/api/keys", json={"name": "eve"}).json()["key"]
    return key


def _usage(api: Api, requests: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    total: dict[str, Any] = {}
    while time.monotonic() < deadline:
        total = api.http.get("/api/usage").json()["total"]
        if total["requests"] >= requests:
            return total
        time.sleep(0.3)
    raise AssertionError(f"usage never reached {requests}: {total}")


def test_a_registered_server_is_checked_served_metered_and_outlives_its_deployment(
        up: UpProcess, upstream: tuple[str, subprocess.Popen[bytes]]) -> None:
    base_url, process = upstream
    api = Api(up.base_url)
    key = api.create_key()
    outcome = _register(up, base_url, UPSTREAM_KEY)
    assert outcome["created"] and outcome["changed"]
    again = _register(up, base_url, UPSTREAM_KEY)
    assert (again["id"], again["created"], again["changed"]) == (outcome["id"], False, False)

    deployment = _wait(api, outcome["id"], "running", "healthy")
    assert deployment["cloud"] == "external" and deployment["price_per_hour"] == 0.25
    assert deployment["endpoint_url"].startswith(up.base_url)  # the gateway, not the server
    assert all(i["endpoint_url"] is None for i in deployment["instances"])  # not shown to users
    chat_with_openai(deployment, key)
    total = _usage(api, 2)
    assert total["completion_tokens"] == 16 and total["prompt_tokens"] > 0

    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(base_url=deployment["endpoint_url"], api_key=_stranger_key(up.base_url),
                      max_retries=0).chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=1)

    # A stale key: the server refuses every check (401), the monitor calls the deployment
    # unhealthy and the agent heals it, which for a server FlowLlama does not run means
    # adopting it again and waiting for it to answer; the right key again and it is back.
    _register(up, base_url, "a-stale-key")
    _wait_not_running(api, outcome["id"])
    _register(up, base_url, UPSTREAM_KEY)
    _wait(api, outcome["id"], "running", "healthy")
    events = api.http.get(f"/api/deployments/{outcome['id']}/events").json()
    moves = [(e["from_status"], e["to_status"], e["reason"]) for e in events]
    assert ("running", "unhealthy", "1 consecutive failed health checks") in moves
    # The refusal is on the record (the old server's own row is checked again, and healthy,
    # before the blue/green heal drains it, so its last error is cleared by then).
    assert any("401" in json.dumps(event) for event in events), events

    assert api.http.delete(f"/api/deployments/{outcome['id']}").status_code == 202
    deadline = time.monotonic() + TIMEOUT_S
    while api.http.get(f"/api/deployments/{outcome['id']}").status_code != 404:
        assert time.monotonic() < deadline, "the deployment was never deleted"
        time.sleep(0.3)
    assert process.poll() is None, "deleting the deployment stopped the server"
    answer = httpx.get(f"{base_url}/models", headers={"Authorization": f"Bearer {UPSTREAM_KEY}"})
    assert answer.status_code == 200
