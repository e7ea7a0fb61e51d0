"""Changing and scaling a running deployment end to end, through a real ``flowllama up`` with
real llama.cpp serving the tiny model.

* ``PATCH`` of the context size under steady traffic (a bounded loop of chat requests through
  the gateway with the official ``openai`` client): the new server runs with the new context
  (its runtime's command line says ``--n_ctx`` of the new size, and its local record too), the
  old one is gone, and no request fails.
* ``replicas: {min: 2, max: 2}`` gives two runtime processes, and the gateway spreads requests
  over both (counted in each runtime's own access log).
* ``replicas: {min: 1, max: 2}`` scales on load: four clients sending without pause keep more
  requests in flight than the one slot of the one replica, so the autopilot adds a second
  runtime; when they stop, it goes back to one. Both steps are in the events, and no request
  fails on the way.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest

from flowllama.providers.local import procfs
from flowllama.runtimes import LlamaCppRuntime
from processes import TIMEOUT_S, Api, UpProcess, flowllama_up, local_env, wait_answering

pytestmark = pytest.mark.slow

SETTINGS = {
    # Deep probes send chat requests to each runtime: none during the test, so a runtime's
    # access log counts only what the gateway sent it.
    "FLOWLLAMA_MONITOR__INTERVAL_S": "0.5", "FLOWLLAMA_MONITOR__DEEP_INTERVAL_S": "3600",
    "FLOWLLAMA_AUTOPILOT__INTERVAL_S": "0.5", "FLOWLLAMA_AUTOPILOT__LOAD_REPORT_INTERVAL_S": "0.5",
    "FLOWLLAMA_AUTOPILOT__DRAIN_TIMEOUT_S": "30", "FLOWLLAMA_GATEWAY__ROUTE_CACHE_TTL_S": "0.5",
    "FLOWLLAMA_AUTOPILOT__SCALE_DOWN_AFTER_S": "2",
}
CLIENTS = 4  # concurrent senders for the load-scaling test: 4 requests on 1 slot
ROUTE_CACHE_S = 1.0  # longer than the gateway's route cache above
MAX_REQUESTS = 2000  # the traffic loop's bound, besides TIMEOUT_S
CHAT_LINE = re.compile(r'"POST /v1/chat/completions HTTP/1\.[01]" 200')


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    with flowllama_up(tmp_path, local_env(tiny_model_file.parent, **SETTINGS)) as running:
        yield running


@dataclass
class Traffic:
    """Sequential chat requests through the gateway in a thread, until stopped or bounded."""

    deployment: dict[str, Any]
    api_key: str
    sent: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(120)

    def _run(self) -> None:
        client = openai.OpenAI(base_url=self.deployment["endpoint_url"], api_key=self.api_key,
                               max_retries=0, timeout=60)
        deadline = time.monotonic() + TIMEOUT_S * 2
        while not self._stop.is_set() and self.sent < MAX_REQUESTS and (
                time.monotonic() < deadline):
            self.sent += 1
            try:
                reply = client.chat.completions.create(
                    model=self.deployment["endpoint_model"], max_tokens=2,
                    messages=[{"role": "user", "content": f"request {self.sent}"}])
                if not reply.choices:
                    self.failures.append(f"#{self.sent}: no choices")
            except openai.OpenAIError as exc:
                self.failures.append(f"#{self.sent}: {exc!r}")


def _records(up: UpProcess, deployment_id: str) -> list[dict[str, Any]]:
    """The local provisioner's records of the deployment's servers (one per slot)."""
    found = []
    for path in sorted((up.data_dir / "local" / "records").glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("deployment_id") == deployment_id:
            found.append(record)
    return found


def _runtime_command(port: int) -> list[str]:
    """The command line of the runtime listening on ``port`` (its configuration)."""
    for info in procfs.all_processes():
        argv = procfs.command_line(info.pid) or []
        if not info.running or "--n_ctx" not in argv or "--port" not in argv:
            continue
        if argv[argv.index("--port") + 1] == str(port):
            return argv
    raise AssertionError(f"no runtime process listens on port {port}")


def _live(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in deployment["instances"] if i["terminated_at"] is None]


def _wait(api: Api, deployment_id: str, done: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        body = api.deployment(deployment_id)
        if done(body):
            return body
        assert body["status"] != "failed", body["status_message"]
        assert not body.get("rollout_error"), body["rollout_error"]
        assert time.monotonic() < deadline, f"never {what}: {body}"
        time.sleep(0.3)


def _deploy(api: Api) -> tuple[dict[str, Any], str]:
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    running = api.wait_status(created.json()["id"], "running")
    key = api.create_key()
    wait_answering(running, key)
    return running, key


def test_a_context_change_rolls_a_new_server_without_a_failed_request(up: UpProcess) -> None:
    api = Api(up.base_url)
    running, key = _deploy(api)
    deployment_id = running["id"]
    [old] = _live(running)
    with Traffic(running, key) as traffic:
        while traffic.sent < 5:  # traffic flows before the change
            assert not traffic.failures, traffic.failures
            time.sleep(0.1)
        changed = api.http.patch(f"/api/deployments/{deployment_id}",
                                 json={"context_size": 1024})
        assert changed.status_code == 202, changed.text
        assert changed.json()["generation"] == running["generation"] + 1
        rolled = _wait(api, deployment_id, lambda body: (
            body["status"] == "running" and [i["id"] for i in _live(body)] != [old["id"]]
            and len(_live(body)) == 1 and body["replicas"]["running"] == 1),
            "rolled to the new context")
        sent_at_switch = traffic.sent
        while traffic.sent < sent_at_switch + 5:  # and keeps flowing after it
            time.sleep(0.1)
    assert traffic.failures == [], traffic.failures
    [new] = _live(rolled)
    [record] = [r for r in _records(up, deployment_id) if r.get("slot", "") == new["slot"]]
    assert record["context_size"] == 1024
    argv = _runtime_command(record["port"])
    assert argv[argv.index("--n_ctx") + 1] == "1024"
    reasons = [e["reason"] for e in api.http.get(
        f"/api/deployments/{deployment_id}/events").json()]
    assert "changed by user: context_size 512 → 1024" in reasons


def test_two_replicas_run_two_runtimes_and_share_the_requests(up: UpProcess) -> None:
    api = Api(up.base_url)
    running, key = _deploy(api)
    deployment_id = running["id"]
    changed = api.http.patch(f"/api/deployments/{deployment_id}",
                             json={"replicas": {"min": 2, "max": 2}})
    assert changed.status_code == 202, changed.text
    assert changed.json()["generation"] == running["generation"]  # no new servers needed
    scaled = _wait(api, deployment_id, lambda body: body["replicas"]["running"] == 2,
                   "ran two replicas")
    assert scaled["replicas"] == {"min": 2, "max": 2, "desired": 2, "running": 2}
    records = [r for r in _records(up, deployment_id) if r.get("pid")]
    assert len(records) == 2
    ports = {record["port"] for record in records}
    assert len(ports) == 2 and all(_runtime_command(port) for port in ports)
    # A server's first check by the monitor is a deep probe (a chat request of its own):
    # count only after both were checked. The gateway routes to a new instance once its route
    # cache has seen it.
    _wait(api, deployment_id, lambda body: all(i["last_latency_ms"] is not None
                                               for i in _live(body)),
          "checked by the monitor")
    time.sleep(ROUTE_CACHE_S)
    wait_answering(scaled, key)
    before = {r["log_path"]: _chat_lines(r["log_path"]) for r in records}
    client = openai.OpenAI(base_url=scaled["endpoint_url"], api_key=key, max_retries=0,
                           timeout=60)
    for number in range(40):
        reply = client.chat.completions.create(
            model=scaled["endpoint_model"], max_tokens=2,
            messages=[{"role": "user", "content": f"request {number}"}])
        assert reply.choices
    # A runtime writes its access line as it answers, through its supervisor's pipe into the
    # log file: the last line may land just after the client has its reply.
    deadline = time.monotonic() + 10
    served = {path: _chat_lines(path) - count for path, count in before.items()}
    while sum(served.values()) < 40 and time.monotonic() < deadline:
        time.sleep(0.2)
        served = {path: _chat_lines(path) - count for path, count in before.items()}
    assert sum(served.values()) == 40, served
    assert all(count > 0 for count in served.values()), f"one runtime took all: {served}"


def _chat_lines(log_path: str) -> int:
    """Chat completions a runtime answered, from its own (uvicorn) access log."""
    path = Path(log_path)
    if not path.exists():
        return 0
    return len(CHAT_LINE.findall(path.read_text(errors="replace")))


def test_load_adds_a_replica_and_removes_it_when_load_is_gone(up: UpProcess) -> None:
    api = Api(up.base_url)
    running, key = _deploy(api)
    deployment_id = running["id"]
    changed = api.http.patch(f"/api/deployments/{deployment_id}",
                             json={"replicas": {"min": 1, "max": 2}})
    assert changed.status_code == 202, changed.text
    assert changed.json()["replicas"] == {"min": 1, "max": 2, "desired": 1, "running": 1}
    with ExitStack() as stack:
        senders = [stack.enter_context(Traffic(running, key)) for _ in range(CLIENTS)]
        _wait(api, deployment_id, lambda body: body["replicas"]["running"] == 2,
              "scaled up under load")
    assert [f for sender in senders for f in sender.failures] == []
    calm = _wait(api, deployment_id, lambda body: body["replicas"]["desired"] == 1
                 and body["replicas"]["running"] == 1 and len(_live(body)) == 1,
                 "scaled back down without load")
    assert calm["status"] == "running"
    reasons = [e["reason"] for e in api.http.get(
        f"/api/deployments/{deployment_id}/events").json()]
    assert any(r.startswith("scaled up to 2 replicas: ") for r in reasons), reasons
    assert any(r.startswith("scaled down to 1 replica: ") for r in reasons), reasons
