"""Sleep when idle, wake on request, end to end through a real ``flowllama up`` (real
llama.cpp on the tiny model, the autopilot ticking every half second): a deployment with a
short idle timeout goes to sleep with no traffic and its runtime process is gone; a chat through
the official ``openai`` client wakes it and is answered; asleep again, 20 concurrent requests
during the wake start it exactly once (one wake event, one provisioning, one runtime) and all
20 are answered. The idle timeout is set with the API's ``PATCH``;
``FLOWLLAMA_AUTOPILOT__MIN_IDLE_TIMEOUT_S`` lets it be seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import create_engine, text

from flowllama.providers.local.supervision import find_supervisors
from flowllama.runtimes import LlamaCppRuntime
from processes import TIMEOUT_S, Api, UpProcess, flowllama_up, local_env, processes_marked_by

pytestmark = pytest.mark.slow

IDLE_TIMEOUT_S = 4
AUTOPILOT = {"FLOWLLAMA_AUTOPILOT__INTERVAL_S": "0.5",
             "FLOWLLAMA_AUTOPILOT__LOAD_REPORT_INTERVAL_S": "0.5",
             "FLOWLLAMA_AUTOPILOT__MIN_IDLE_TIMEOUT_S": "1",
             "FLOWLLAMA_AUTOPILOT__WAKE_HOLD_S": str(TIMEOUT_S),
             "FLOWLLAMA_GATEWAY__KEY_CACHE_TTL_S": "1",
             "FLOWLLAMA_GATEWAY__ROUTE_CACHE_TTL_S": "1"}
MESSAGES: list[Any] = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    with flowllama_up(tmp_path, local_env(tiny_model_file.parent, **AUTOPILOT)) as running:
        yield running


def _sql(up: UpProcess, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(f"sqlite:///{up.data_dir / 'flowllama.db'}")
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def _runtimes(up: UpProcess, tmp_path: Path) -> list[tuple[int, str]]:
    """The llama.cpp server processes of this ``flowllama up``, from the process table."""
    return [(pid, line) for pid, line in processes_marked_by(tmp_path) if "llama_cpp" in line]


def _sleeps(api: Api, up: UpProcess, tmp_path: Path, deployment_id: str) -> None:
    """No traffic: the deployment goes to sleep, and its supervisor and runtime are gone."""
    api.wait_status(deployment_id, "sleeping")
    deadline = time.monotonic() + 30
    while find_supervisors(up.data_dir / "local") or _runtimes(up, tmp_path):
        assert time.monotonic() < deadline, _runtimes(up, tmp_path)
        time.sleep(0.2)


def _events_since_last_sleep(api: Api, deployment_id: str) -> list[dict[str, Any]]:
    events = api.http.get(f"/api/deployments/{deployment_id}/events").json()
    slept = max(i for i, e in enumerate(events) if e["to_status"] == "sleeping"
                and e["from_status"] != "sleeping")
    return list(events[slept + 1:])


def test_idle_sleep_and_wake_on_request(up: UpProcess, tmp_path: Path) -> None:
    api = Api(up.base_url)
    key = api.create_key()
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    deployment_id = created.json()["id"]
    deployment = api.wait_status(deployment_id, "running")
    assert len(_runtimes(up, tmp_path)) == 1
    patched = api.http.patch(f"/api/deployments/{deployment_id}",
                             json={"idle_timeout_s": IDLE_TIMEOUT_S})
    assert patched.status_code == 202 and patched.json()["generation"] == 0, patched.text
    client = openai.OpenAI(base_url=deployment["endpoint_url"], api_key=key, max_retries=0,
                           timeout=TIMEOUT_S)

    _sleeps(api, up, tmp_path, deployment_id)
    assert "tiny" in [m.id for m in client.models.list().data]  # listed while asleep
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=4)
    assert reply.choices[0].message.content
    assert api.deployment(deployment_id)["status"] == "running"

    _sleeps(api, up, tmp_path, deployment_id)
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda _: client.chat.completions.create(
            model="tiny", messages=MESSAGES, max_tokens=4), range(20)))
    assert all(r.choices[0].message.content for r in replies)
    events = _events_since_last_sleep(api, deployment_id)
    wakes = [e for e in events  # the wake's own event (the agent's move names it too)
             if e["reason"] == "woken by a request" and e["from_status"] == e["to_status"]]
    assert len(wakes) == 1 and wakes[0]["data"] == {"wake_count": 2}
    moves = [(e["from_status"], e["to_status"]) for e in events
             if e["from_status"] != e["to_status"]]
    assert moves.count(("sleeping", "provisioning")) == 1, events
    assert moves[:3] == [("sleeping", "provisioning"), ("provisioning", "starting"),
                         ("starting", "running")]
    assert len(_runtimes(up, tmp_path)) == 1
    assert len(find_supervisors(up.data_dir / "local")) == 1
    [(wake_count, asleep_seconds)] = _sql(
        up, "SELECT wake_count, asleep_seconds FROM deployments WHERE id = :id",
        id=deployment_id)
    assert wake_count == 2 and asleep_seconds > 0
