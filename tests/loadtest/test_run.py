"""``flowllama loadtest run`` for real: Locust against ``flowllama up`` serving the tiny model
with llama.cpp, and against a target that fails half its requests. Both runs go through the
CLI in a child process (Locust patches its process for gevent), and are read back from the
store as the dashboard reads them."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from factories import STRONG_PASSWORD
from flowllama.loadtest.store import open_store
from flowllama.runtimes import LlamaCppRuntime
from processes import Api, UpProcess, flowllama_up, local_env, wait_answering

# Looked up, never imported: importing Locust monkey-patches the whole test process for gevent.
# In CI the loadtest extra is installed, so a missing Locust fails there instead of skipping.
if importlib.util.find_spec("locust") is None and not os.environ.get("CI"):
    pytest.skip("Locust is not installed (the loadtest extra)", allow_module_level=True)


def loadtest(*args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    return subprocess.run([sys.executable, "-m", "flowllama", "loadtest", "run", *args],
                          capture_output=True, text=True, timeout=timeout_s, env=env,
                          check=False)


def stored_summary(results: Path) -> dict[str, Any]:
    """The one run in ``results``, read back through the store (complete runs only)."""
    store = open_store(f"file://{results}")
    (ref,) = store.list_runs()
    for name in ("stats.csv", "stats_history.csv", "failures.csv", "exceptions.csv",
                 "llm_requests.csv"):
        assert store.file_url_or_bytes(ref, name)
    return store.read_summary(ref)


def endpoint(summary: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [e for e in summary["endpoints"] if e["name"] == name]
    return found


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    with flowllama_up(tmp_path, local_env(tiny_model_file.parent)) as running:
        yield running


@pytest.mark.slow
def test_a_run_against_flowllama_up_with_the_tiny_model(up: UpProcess, tmp_path: Path) -> None:
    api = Api(up.base_url)  # registers e2e@example.com
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    running = api.wait_status(created.json()["id"], "running")
    key = api.create_key()
    wait_answering(running, key)

    results = tmp_path / "results"
    done = loadtest("--deployment", "tiny", "--api-url", up.base_url,
                    "--email", "e2e@example.com", "--password", STRONG_PASSWORD,
                    "--api-key", key, "--duration", "20s", "--users", "3", "--spawn-rate", "3",
                    "--max-tokens", "16", "--results", f"file://{results}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "free" in done.stdout  # $/1M tokens of a $0/h deployment, not a division error

    summary = stored_summary(results)
    assert summary["schema_version"] == 1
    assert summary["target"]["token_api_url"] == f"{up.base_url}/v1"
    assert summary["target"]["model"] == "tiny"
    assert summary["price"]["usd_per_hour"] == 0.0
    assert summary["price"]["source"].startswith("deployment placement billed $/h (local")
    totals = summary["totals"]
    assert totals["failures"] == 0 and totals["requests"] > 10
    assert totals["output_tokens"] > 0 and totals["output_tokens_per_s"] > 0
    assert totals["usd_per_million_output_tokens"] == 0.0
    stream = endpoint(summary, "POST /v1/chat/completions (stream)")
    assert stream["requests"] > 0 and stream["llm"] is True
    for figure in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
        assert all(v is not None and v > 0 for v in stream[figure].values()), figure
    # The server's usage counts: at most --max-tokens per answer, at least one.
    assert stream["requests"] <= stream["output_tokens"] <= 16 * stream["requests"]
    assert stream["output_tokens_per_s_per_request"]["p50"] > 0
    assert stream["goodput_ratio"] is not None
    groups = {e["group"] for e in summary["endpoints"]}
    assert groups == {"backend", "tokenapi"}  # llama.cpp has no Ollama passthrough
    assert {e["name"] for e in summary["endpoints"] if e["group"] == "backend"} >= {
        "GET /health", "POST /api/auth/login", "GET /api/deployments"}


def test_a_target_failing_half_its_requests(flaky_target: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = loadtest("--api-url", flaky_target, "--ollama-url", f"{flaky_target}/ollama/x",
                    "--token-api-url", f"{flaky_target}/v1", "--model", "m", "--api-key", "k",
                    "--email", "a@example.com", "--password", "p", "--duration", "6s",
                    "--users", "4", "--spawn-rate", "4", "--price-per-hour", "2.5",
                    "--results", f"file://{results}", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = stored_summary(results)
    assert json.loads(done.stdout) == summary
    totals = summary["totals"]
    assert totals["requests"] > 10
    assert 0.3 <= totals["error_rate"] <= 0.7, totals
    assert totals["failures"] == sum(e["failures"] for e in summary["endpoints"])
    assert {e["group"] for e in summary["endpoints"]} == {"backend", "ollama", "tokenapi"}
    assert totals["output_tokens"] > 0
    expected = 2.5 / (totals["output_tokens_per_s"] * 3600) * 1e6
    assert totals["usd_per_million_output_tokens"] == pytest.approx(expected, rel=0.01)
    assert summary["price"] == {"usd_per_hour": 2.5, "source": "--price-per-hour"}
    failures = open_store(f"file://{results}").file_url_or_bytes(
        open_store(f"file://{results}").list_runs()[0], "failures.csv")
    assert b"500" in failures


def test_a_run_stopped_with_sigterm_stores_nothing_and_stops_its_worker(
        flaky_target: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    env["TMPDIR"] = str(tmp_path)  # the worker's directory: the autouse leak check sees it
    cli = subprocess.Popen(
        [sys.executable, "-m", "flowllama", "loadtest", "run", "--token-api-url",
         f"{flaky_target}/v1", "--model", "m", "--api-key", "k", "--duration", "60s",
         "--users", "2", "--spawn-rate", "2", "--results", f"file://{results}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert cli.stderr is not None
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("flowllama-loadtest-*/locust_stats.csv")):
        assert time.monotonic() < deadline and cli.poll() is None, "the run never started"
        time.sleep(0.2)
    time.sleep(2)  # users are running
    cli.send_signal(signal.SIGTERM)
    assert cli.wait(30) == 128 + signal.SIGTERM
    assert open_store(f"file://{results}").list_runs() == []
    assert not list(tmp_path.glob("flowllama-loadtest-*"))  # its files removed


def test_run_loadtest_from_python_reports_progress_and_can_be_cancelled(
        flaky_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The function the API and the scheduler call: progress about once a second, and a
    cancelled run stops at once and stores nothing."""
    from flowllama.loadtest.config import LoadtestConfig
    from flowllama.loadtest.runner import LoadtestCancelled, run_loadtest

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the worker's dir: leak check
    store = open_store(f"file://{tmp_path / 'results'}")
    config = LoadtestConfig("flaky", token_api_url=f"{flaky_target}/v1", model="m",
                            api_key="k", duration_s=60, users=2, spawn_rate=2)
    cancel, seen = threading.Event(), []

    def progress(event: dict[str, Any]) -> None:
        seen.append(event)
        if event["requests"] > 0:
            cancel.set()

    started = time.monotonic()
    with pytest.raises(LoadtestCancelled):
        run_loadtest(config, store, progress, cancel=cancel)
    assert time.monotonic() - started < 30
    assert seen and set(seen[0]) == {"elapsed_s", "duration_s", "users", "requests", "failures",
                                     "rps", "output_tokens"}
    assert store.list_runs() == []
    assert not list(tmp_path.glob("flowllama-loadtest-*"))
