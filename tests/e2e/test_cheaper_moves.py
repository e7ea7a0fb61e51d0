"""The placement advisor and spot recovery end to end, on a real ``flowllama up`` whose agent
places AWS offers with the ``cloudsim`` test provisioner (``tests/cloud_up.py``: real
llama.cpp servers of the tiny model, reported at the AWS offer the agent chose; only the cloud
is pretended):

* a price drop in the catalog (refreshed prices written as ``flowllama pricing refresh``
  does) gives a recommendation with the right saving; accepting it moves the deployment
  without a gap: a bounded loop of requests through the gateway loses none, the new
  placement serves and the old server is gone;
* a spot server taken back behind the agent's back is replaced on the next allowed offer,
  with events and exactly one ``deployment.spot_reclaimed`` webhook.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cloud_lookalike import reclaim
from flowllama.db.session import Database
from flowllama.db.tables import Instance
from flowllama.providers.local import LocalOptions, LocalProvisioner, supervision
from flowllama.runtimes import LlamaCppRuntime
from price_drops import write_price_drop
from processes import TIMEOUT_S, Api, UpProcess, flowllama_up, local_env, wait_answering
from webhook_receiver import Receiver

pytestmark = pytest.mark.slow

CLOUD_UP = Path(__file__).resolve().parents[1] / "cloud_up.py"
FAST = {"FLOWLLAMA_MONITOR__INTERVAL_S": "0.5", "FLOWLLAMA_MONITOR__TIMEOUT_S": "2",
        "FLOWLLAMA_MONITOR__FAILURES_BEFORE_UNHEALTHY": "2",
        "FLOWLLAMA_MONITOR__HEAL_BACKOFF_S": "0",
        "FLOWLLAMA_AUTOPILOT__INTERVAL_S": "0.5", "FLOWLLAMA_AUTOPILOT__DRAIN_TIMEOUT_S": "20",
        # The tiny model's CPU offers cost cents an hour: any saving counts here.
        "FLOWLLAMA_AUTOPILOT__ADVISOR_MIN_SAVING_USD_MONTH": "0.01",
        "FLOWLLAMA_AUTOPILOT__ADVISOR_MIN_SAVING_PERCENT": "1",
        "FLOWLLAMA_CLOUDS__AWS__ENABLED": "true", "FLOWLLAMA_CLOUDS__OLLAMA_SHA256": "0" * 64,
        "FLOWLLAMA_WEBHOOKS__ALLOW_HOSTS": '["127.0.0.1"]', "FLOWLLAMA_WEBHOOKS__POLL_S": "0.2"}
REQUESTS = 2000  # the most the traffic loop sends, whatever happens
PAUSE_S = 0.05  # between its requests: steady traffic for the whole move, not a burst


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path, receiver: Receiver) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    env = local_env(tiny_model_file.parent, **FAST,
                    FLOWLLAMA_WEBHOOKS__ALLOW_PORTS=f"[{receiver.port}]")
    with flowllama_up(tmp_path, env, command=(str(CLOUD_UP),)) as running:
        yield running
    assert supervision.find_supervisors((running.data_dir / "cloudsim").resolve()) == []


def _create(api: Api, spot_tolerance: str) -> dict[str, Any]:
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "aws",
        "spot_tolerance": spot_tolerance})
    assert created.status_code == 202, created.text
    return api.wait_status(created.json()["id"], "running")


def _live(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in body["instances"] if i["terminated_at"] is None]


def _until(what: str, check: Any, timeout_s: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.3)


class Traffic:
    """A bounded loop of chat requests through the gateway in a thread; counts failures."""

    def __init__(self, deployment: dict[str, Any], api_key: str) -> None:
        self.url = f"{deployment['endpoint_url']}/chat/completions"
        self.body = {"model": deployment["endpoint_model"], "max_tokens": 2,
                     "messages": [{"role": "user", "content": "hi"}]}
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as http:
            for _ in range(REQUESTS):
                if self._stop.is_set():
                    return
                try:
                    response = http.post(self.url, json=self.body, headers=self.headers)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
                self._stop.wait(PAUSE_S)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def test_a_price_drop_is_recommended_and_accepting_moves_without_a_gap(up: UpProcess) -> None:
    api = Api(up.base_url)
    first = _create(api, "none")
    deployment_id = first["id"]
    key = api.create_key()
    wait_answering(first, key)
    [old] = _live(first)
    offer = {"region": old["region"], "instance_type": old["instance_type"],
             "spot": old["spot"], "price_per_hour": old["price_per_hour"]}
    cheaper = write_price_drop(up.data_dir, first["estimate"]["candidates"], offer, 0.5,
                               "2026-12-01")

    base = f"/api/deployments/{deployment_id}/recommendations"
    [shown] = _until("a recommendation", lambda: api.http.get(base).json())
    assert shown["status"] == "open"
    assert shown["new_price_per_hour"] == cheaper["price_per_hour"]
    assert shown["monthly_saving_usd"] == pytest.approx(
        (old["price_per_hour"] - cheaper["price_per_hour"]) * 730, abs=0.01)
    assert (shown["placement"]["region"], shown["placement"]["instance_type"]) == (
        cheaper["region"], cheaper["instance_type"])

    with Traffic(first, key) as traffic:
        _until("some traffic before the move", lambda: traffic.ok >= 3)
        accepted = api.http.post(f"{base}/{shown['id']}/accept")
        assert accepted.status_code == 202, accepted.text

        def moved() -> dict[str, Any] | None:
            body = api.deployment(deployment_id)
            live = _live(body)
            done = [i["id"] for i in live] != [old["id"]] and len(live) == 1 and \
                live[0]["region"] == cheaper["region"] and live[0]["status"] == "healthy"
            return body if done else None

        body = _until("moved to the cheaper offer", moved)
        assert traffic.running, f"the traffic loop ended early: {traffic.ok} ok"
        served_before_end = traffic.ok
        _until("traffic on the new server", lambda: traffic.ok >= served_before_end + 3)
    assert traffic.failures == [], (traffic.ok, traffic.failures[:5])
    [new] = _live(body)
    assert new["price_per_hour"] == cheaper["price_per_hour"]
    wait_answering(body, key)
    reasons = [e["reason"] for e in api.http.get(f"/api/deployments/{deployment_id}/events")
               .json()]
    assert any(reason.startswith("moving to ") for reason in reasons)
    old_handle = _handles(up, deployment_id)[old["id"]]
    supervisors = supervision.find_supervisors((up.data_dir / "cloudsim").resolve())
    assert old_handle["data"]["inner"]["data"]["pid"] not in [s.pid for s in supervisors]


def test_a_reclaimed_spot_server_is_replaced_on_the_next_offer_with_one_webhook(
        up: UpProcess, receiver: Receiver, tiny_model_file: Path) -> None:
    api = Api(up.base_url)
    hook = api.http.post("/api/webhooks", json={
        "url": receiver.url, "events": ["deployment.spot_reclaimed"]})
    assert hook.status_code == 201, hook.text
    first = _create(api, "high")
    deployment_id = first["id"]
    [old] = _live(first)
    assert old["spot"]
    handle = _handles(up, deployment_id)[old["id"]]
    root = (up.data_dir / "cloudsim").resolve()
    reclaim(root, LocalProvisioner(root, tiny_model_file.parent, LocalOptions()), handle)

    def replaced() -> dict[str, Any] | None:
        body = api.deployment(deployment_id)
        live = _live(body)
        ok = body["status"] == "running" and live and live[0]["id"] != old["id"]
        return body if ok else None

    body = _until("replaced after the reclaim", replaced)
    [new] = _live(body)
    assert (new["region"], new["instance_type"]) != (old["region"], old["instance_type"])
    wait_answering(body, api.create_key())
    reasons = [e["reason"] for e in api.http.get(f"/api/deployments/{deployment_id}/events")
               .json()]
    assert any("reclaimed" in reason for reason in reasons), reasons
    _until("the webhook", lambda: receiver.requests, 60)
    time.sleep(3)  # a second delivery would have arrived by now
    events = [r.headers.get("X-FlowLlama-Event") for r in receiver.requests]
    assert events == ["deployment.spot_reclaimed"]


def _handles(up: UpProcess, deployment_id: str) -> dict[str, dict[str, Any]]:
    """Each instance's stored handle (what the agent keeps to find its server again)."""
    database = Database(f"sqlite:///{up.data_dir / 'flowllama.db'}")
    try:
        with database.session() as session:
            rows = session.scalars(select(Instance).where(
                Instance.deployment_id == deployment_id)).all()
            return {row.id: dict(row.handle) for row in rows}
    finally:
        database.dispose()
