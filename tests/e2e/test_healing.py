"""Auto-healing end to end through a real ``flowllama up`` with the monitor's intervals
shortened: the runtime of a running ``local/tiny`` deployment is killed from outside; the monitor
marks the deployment unhealthy after the configured failures, the agent replaces the server, and
the new one answers the official ``openai`` client. The logs endpoint shows the dead runtime's
last lines meanwhile, and a webhook receiver on loopback (allow-listed) gets signed
``deployment.unhealthy`` and ``deployment.healed`` deliveries that verify."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from flowllama.providers.local.supervision import find_supervisors
from flowllama.runtimes import LlamaCppRuntime
from processes import TIMEOUT_S, Api, UpProcess, chat_with_openai, flowllama_up, local_env
from webhook_receiver import Receiver

pytestmark = pytest.mark.slow

MONITOR = {"FLOWLLAMA_MONITOR__INTERVAL_S": "0.5", "FLOWLLAMA_MONITOR__TIMEOUT_S": "2",
           "FLOWLLAMA_MONITOR__FAILURES_BEFORE_UNHEALTHY": "2",
           "FLOWLLAMA_MONITOR__HEAL_BACKOFF_S": "0",
           "FLOWLLAMA_WEBHOOKS__ALLOW_HOSTS": '["127.0.0.1"]',
           "FLOWLLAMA_WEBHOOKS__POLL_S": "0.2"}


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path, receiver: Receiver) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    ports = {"FLOWLLAMA_WEBHOOKS__ALLOW_PORTS": f"[{receiver.port}]"}
    with flowllama_up(tmp_path, local_env(tiny_model_file.parent, **MONITOR, **ports)
                      ) as running:
        yield running


def test_a_killed_runtime_is_detected_and_healed(up: UpProcess, receiver: Receiver) -> None:
    api = Api(up.base_url)
    hook = api.http.post("/api/webhooks", json={
        "url": receiver.url, "events": ["deployment.unhealthy", "deployment.healed"]})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    deployment_id = created.json()["id"]
    first = api.wait_status(deployment_id, "running")
    [supervisor] = find_supervisors(up.data_dir / "local")

    os.kill(supervisor.pid, signal.SIGKILL)  # the runtime dies with it
    events_url = f"/api/deployments/{deployment_id}/events"
    deadline = time.monotonic() + TIMEOUT_S
    while "unhealthy" not in [e["to_status"] for e in api.http.get(events_url).json()]:
        assert time.monotonic() < deadline, "the monitor never noticed"
        time.sleep(0.2)
    logs = api.http.get(f"/api/deployments/{deployment_id}/logs").json()
    assert logs["lines"], "the dead runtime's last lines stay readable"

    deadline = time.monotonic() + TIMEOUT_S
    while True:
        healed = api.deployment(deployment_id)
        live = [i for i in healed["instances"] if i["terminated_at"] is None]
        if healed["status"] == "running" and live and live[0]["id"] != first["instances"][0]["id"]:
            break
        assert healed["status"] != "failed", healed["status_message"]
        assert time.monotonic() < deadline, f"never healed: {healed}"
        time.sleep(0.3)
    chat_with_openai(healed, api.create_key())
    reasons = [e["reason"] for e in api.http.get(events_url).json()]
    assert any(r.startswith("heal attempt 1") for r in reasons)
    assert any(r.startswith("healed") for r in reasons)
    _wait_for_deliveries(receiver, {"deployment.unhealthy", "deployment.healed"})
    for delivery in receiver.requests:
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        StandardWebhook(secret).verify(delivery.body, headers)  # raises unless it verifies
        assert json.loads(delivery.body)["deployment"]["id"] == deployment_id


def _wait_for_deliveries(receiver: Receiver, events: set[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        seen = {r.headers.get("X-FlowLlama-Event") for r in receiver.requests}
        if events <= seen:
            return
        assert time.monotonic() < deadline, f"deliveries seen: {seen}"
        time.sleep(0.2)
