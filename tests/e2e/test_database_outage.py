"""PostgreSQL goes away for 10 s under load (logins, streamed completions, stop/start) while a
real ``flowllama up`` runs on it: every answer in the meantime is a 503 with ``Retry-After`` or
a success, never another 5xx; afterwards the platform recovers by itself — every background
loop of the process (agent workers, sweeper and heartbeat, monitor, webhook dispatcher, usage
flusher, limit sync, accounts, …) succeeds again after the restore, the deployment converges,
a new deployment is provisioned without restarting anything, and no transition is lost or
doubled. The outage is a TCP proxy in front of the test server, cut and restored, so the
machine's real PostgreSQL (shared with other runs) keeps running."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from db_proxy import CuttableProxy
from factories import STRONG_PASSWORD
from flowllama.runtimes import LlamaCppRuntime
from processes import Api, UpProcess, flowllama_up, local_env

pytestmark = pytest.mark.slow

OUTAGE_S = 10
RESUME_WITHIN_S = 60  # generous: a loop resumes within one backoff (2 s here)
STREAM = {"model": "steady", "stream": True, "max_tokens": 4,
          "messages": [{"role": "user", "content": "Say hello"}]}


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path, outage_db_url: str) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    # Short leases, as an operator running several agents sets them: a step cut off by the
    # outage could not release its row or job lease, so they are waited out.
    env = local_env(tiny_model_file.parent, FLOWLLAMA_DATABASE_URL=outage_db_url,
                    FLOWLLAMA_LOOPS__BACKOFF_MAX_S="2", FLOWLLAMA_GATEWAY__KEY_CACHE_TTL_S="1",
                    FLOWLLAMA_AGENT__LEASE_S="20", FLOWLLAMA_QUEUE__LEASE_S="20",
                    FLOWLLAMA_AGENT__SWEEP_INTERVAL_S="2",
                    # Loops that idle long by default run often, to be seen resuming.
                    FLOWLLAMA_RETENTION__INTERVAL_S="2", FLOWLLAMA_AUTOPILOT__INTERVAL_S="2",
                    FLOWLLAMA_LOADTEST__POLL_S="1")
    with flowllama_up(tmp_path, env) as running:
        yield running
        running.process.send_signal(signal.SIGTERM)  # stops the local runtimes too
        running.process.wait(60)


class Load:
    """Threads that keep calling the platform and record every status code (and whether each
    503 said when to retry)."""

    def __init__(self) -> None:
        self.codes: Counter[int] = Counter()
        self.bad_503s = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run(self, name: str, call: Callable[[], httpx.Response | None]) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    response = call()
                except httpx.TransportError:
                    response = None  # a stream cut short: not an HTTP answer
                if response is not None:
                    self.codes[response.status_code] += 1
                    if response.status_code == 503 and "retry-after" not in response.headers:
                        self.bad_503s += 1
                self._stop.wait(0.2)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def _stream(base: str, key: str) -> httpx.Response:
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=STREAM, timeout=30,
                      headers={"Authorization": f"Bearer {key}"}) as response:
        response.read()
        return response


def _last_successes(base: str) -> dict[str, float]:
    """Each loop's ``flowllama_loop_last_success_timestamp_seconds`` on ``/metrics``."""
    response = httpx.get(f"{base}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return {sample.labels["loop"]: sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name == "flowllama_loop_last_success_timestamp_seconds"}


def _assert_every_loop_resumed(base: str, restored_at: float) -> None:
    """Every loop ``/ready`` checks has succeeded since ``restored_at`` (polled: a loop resumes
    within one backoff, an agent worker once its current step ends)."""
    ready = httpx.get(f"{base}/ready", timeout=30)
    assert ready.status_code == 200, ready.text
    loops = set(ready.json()["loops"])
    assert {"agent-worker-1", "agent-sweeper", "agent-heartbeat", "monitor",
            "webhook-dispatcher", "usage-flusher", "limit-sync", "accounts",
            "retention-purge", "autopilot", "load-reporter", "loadtest-executor"} <= loops
    deadline = time.monotonic() + RESUME_WITHIN_S
    while True:
        successes = _last_successes(base)
        behind = {name: successes.get(name) for name in loops
                  if successes.get(name, 0.0) <= restored_at}
        if not behind:
            return
        assert time.monotonic() < deadline, f"loops not resumed since the restore: {behind}"
        time.sleep(0.5)


def _assert_chain(events: list[dict[str, Any]]) -> None:
    """Each transition (oldest first, as listed) starts where the previous one ended: none
    lost, none doubled."""
    for before, after in itertools.pairwise(events):
        assert after["from_status"] == before["to_status"], events


def test_postgresql_away_for_ten_seconds_under_load(up: UpProcess,
                                                    pg_proxy: CuttableProxy) -> None:
    api = Api(up.base_url)
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    first = created.json()["id"]
    steady = api.http.post("/api/deployments", json={  # streamed to; never stopped
        "name": "steady", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert steady.status_code == 202, steady.text
    api.wait_status(first, "running")
    api.wait_status(steady.json()["id"], "running")
    key = api.http.post("/api/keys", json={"name": "load"}).json()["key"]
    login = {"email": "e2e@example.com", "password": STRONG_PASSWORD}
    actions = iter(["stop", "start"] * 100)

    load = Load()
    load.run("logins", lambda: httpx.post(f"{up.base_url}/api/auth/login", json=login,
                                          timeout=30))
    load.run("streams", lambda: _stream(up.base_url, key))
    load.run("actions", lambda: api.http.post(f"/api/deployments/{first}/{next(actions)}"))
    time.sleep(2)
    pg_proxy.cut()
    time.sleep(OUTAGE_S)
    pg_proxy.restore()
    restored_at = time.time()
    time.sleep(3)
    load.stop()

    errors = {code: n for code, n in load.codes.items() if code >= 500 and code != 503}
    assert not errors, load.codes  # a 500, 502 or 504 is as wrong as a 500
    assert load.codes[503] > 0 and load.bad_503s == 0, load.codes
    _assert_every_loop_resumed(up.base_url, restored_at)
    api.http.post(f"/api/deployments/{first}/start")  # whatever the load left: run again
    api.wait_status(first, "running")
    second = api.http.post("/api/deployments", json={
        "name": "tiny-2", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert second.status_code == 202, second.text  # nothing was restarted in between
    api.wait_status(second.json()["id"], "running")
    for deployment_id in (first, steady.json()["id"], second.json()["id"]):
        _assert_chain(api.http.get(f"/api/deployments/{deployment_id}/events").json())
