"""A load test asked through the API of a real ``flowllama up`` serving the tiny model with
llama.cpp: the agent's executor runs it with Locust (loadtest-core's ``run_loadtest``) through
the gateway with its own short-lived key, stores it, and the owner reads the summary (real
tokens, "free" at $0/h), a raw file and the dashboard; the run's key is revoked afterwards."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowllama.runtimes import LlamaCppRuntime
from processes import Api, UpProcess, flowllama_up, local_env, wait_answering

# find_spec, not importorskip: importing locust patches the whole test process for gevent,
# after which other tests' threads and database connections hang.
if importlib.util.find_spec("locust") is None and not os.environ.get("CI"):
    pytest.skip("Locust is not installed (the loadtest extra)", allow_module_level=True)


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    env = local_env(tiny_model_file.parent, FLOWLLAMA_LOADTEST__POLL_S="0.5")
    with flowllama_up(tmp_path, env) as running:
        yield running


@pytest.mark.slow
def test_a_load_test_asked_through_the_api_runs_and_is_stored(up: UpProcess) -> None:
    api = Api(up.base_url)
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    deployment_id = created.json()["id"]
    running = api.wait_status(deployment_id, "running")
    wait_answering(running, api.create_key())
    base = f"/api/deployments/{deployment_id}/loadtests"

    started = api.http.post(base, json={"duration_s": 6, "users": 2})
    assert started.status_code == 202, started.text
    assert api.http.post(base, json={}).json()["error"]["code"] == "loadtest_running"
    run_pk = started.json()["id"]
    deadline = time.monotonic() + 120
    while (run := api.http.get(f"{base}/{run_pk}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.5)
    assert run["status"] == "succeeded", run
    summary = run["summary"]
    assert summary["target"]["name"] == run["target"] and run["target"].startswith("tiny-")
    failures = api.http.get(f"{base}/{run_pk}/files/failures.csv").text
    assert summary["totals"]["output_tokens"] > 0 and summary["totals"]["failures"] == 0, failures
    assert summary["totals"]["usd_per_million_output_tokens"] == 0.0  # $0/h: "free"
    llm = [e for e in summary["endpoints"] if e["llm"]]
    assert any((e.get("ttft_ms") or {}).get("p50") for e in llm)  # the streamed endpoint

    raw = api.http.get(f"{base}/{run_pk}/files/stats.csv")
    assert raw.status_code == 200 and "Name" in raw.text
    board = api.http.get(f"{base}/dashboard").json()
    assert board["runs"] == 1 and "free" in board["html"]
    keys = api.http.get("/api/keys").json()
    assert not [k for k in keys if k["name"].startswith("load test")]  # revoked after the run
