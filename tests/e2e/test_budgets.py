"""Budgets end to end through a real ``flowllama up`` with the tiny model and a short autopilot
interval: two users each run a local deployment; the first one's server is given a price (local
servers cost $0) and a budget; at 50 % only an alert, at 100 % with ``stop`` exactly that
user's deployment stops (its runtime goes), once: later rounds add no event and no webhook,
and the other user's deployment keeps running and answering. One webhook delivery per
threshold reaches a receiver on loopback. A key budget (``stop``) makes the gateway refuse
that key alone with ``insufficient_quota``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from factories import STRONG_PASSWORD
from flowllama.db.session import Database
from flowllama.db.tables import Instance
from flowllama.db.types import utcnow
from flowllama.providers.local.supervision import find_supervisors
from flowllama.runtimes import LlamaCppRuntime
from processes import TIMEOUT_S, Api, UpProcess, flowllama_up, local_env, wait_answering
from webhook_receiver import Receiver

pytestmark = pytest.mark.slow

FAST = {"FLOWLLAMA_AUTOPILOT__INTERVAL_S": "0.5",
        "FLOWLLAMA_WEBHOOKS__ALLOW_HOSTS": '["127.0.0.1"]',
        "FLOWLLAMA_WEBHOOKS__POLL_S": "0.2"}


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path, receiver: Receiver) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    ports = {"FLOWLLAMA_WEBHOOKS__ALLOW_PORTS": f"[{receiver.port}]"}
    with flowllama_up(tmp_path, local_env(tiny_model_file.parent, **FAST, **ports)) as running:
        yield running


def _other_user(base_url: str) -> httpx.Client:
    account = {"email": "bob@example.com", "password": STRONG_PASSWORD}
    http = httpx.Client(base_url=base_url, timeout=30)
    assert http.post("/api/auth/register", json=account).status_code == 201
    token = http.post("/api/auth/login", json=account).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def _deploy(http: httpx.Client, name: str) -> str:
    created = http.post("/api/deployments", json={
        "name": name, "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    deployment_id: str = created.json()["id"]
    return deployment_id


def _wait(http: httpx.Client, deployment_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        body: dict[str, Any] = http.get(f"/api/deployments/{deployment_id}").json()
        if body["status"] == status:
            return body
        assert body["status"] != "failed", body["status_message"]
        assert time.monotonic() < deadline, f"never reached {status}: {body}"
        time.sleep(0.3)


def _price(up: UpProcess, deployment_id: str) -> None:
    """Local servers cost $0: give the deployment's live one $3/h for the last hour (kept
    inside the month) through the database ``flowllama up`` uses."""
    now = utcnow()
    start = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
                now - timedelta(hours=1))
    database = Database(f"sqlite:///{up.data_dir / 'flowllama.db'}")
    try:
        with database.session() as session:
            session.execute(update(Instance).where(
                Instance.deployment_id == deployment_id, Instance.terminated_at.is_(None))
                .values(price_per_hour=3.0, created_at=start))
    finally:
        database.dispose()


def _thresholds(receiver: Receiver) -> list[int]:
    return sorted(json.loads(r.body)["threshold"] for r in receiver.requests
                  if r.headers.get("X-FlowLlama-Event") == "budget.threshold")


def _until(check: Any, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_budget_at_100_percent_stops_exactly_that_users_deployments_once(
        up: UpProcess, receiver: Receiver) -> None:
    ada, bob = Api(up.base_url), _other_user(up.base_url)
    assert ada.http.post("/api/webhooks", json={
        "url": receiver.url, "events": ["budget.threshold"]}).status_code == 201
    mine, theirs = _deploy(ada.http, "ada-tiny"), _deploy(bob, "bob-tiny")
    ada.wait_status(mine, "running")
    bob_deployment = _wait(bob, theirs, "running")
    # A price for ada's local server: $3 spent this month
    _price(up, mine)
    spent = ada.http.get("/api/usage/spend").json()["spend_usd"]
    assert spent > 0

    warn = ada.http.put("/api/budgets/user", json={"monthly_usd": spent * 1.6, "action": "stop"})
    assert warn.status_code == 200, warn.text  # about 60 %: the 50 % alert only
    _until(lambda: _thresholds(receiver) == [50], f"50 % alert: {_thresholds(receiver)}")
    assert ada.deployment(mine)["desired_state"] == "running"

    ada.http.put("/api/budgets/user", json={"monthly_usd": spent * 0.9, "action": "stop"})
    ada.wait_status(mine, "stopped")
    _until(lambda: _thresholds(receiver) == [50, 80, 100], f"alerts: {_thresholds(receiver)}")
    assert len(find_supervisors(up.data_dir / "local")) == 1  # only bob's runtime is left

    time.sleep(3)  # several more autopilot rounds: nothing more happens
    assert _thresholds(receiver) == [50, 80, 100]
    reasons = [e["reason"] for e in ada.http.get(f"/api/deployments/{mine}/events").json()]
    assert sum(r.startswith("stopped: monthly budget of $") for r in reasons) == 1
    assert ada.deployment(mine)["status"] == "stopped"
    [budget] = ada.http.get("/api/usage/spend").json()["budgets"]
    assert [(a["threshold"], a["action_taken"]) for a in budget["alerts"]] == [
        (50, "warned"), (80, "warned"), (100, "stopped")]

    still = _wait(bob, theirs, "running")
    assert still["desired_state"] == "running"
    _key_budget_blocks_that_key_only(up, bob, theirs, bob_deployment)


def _key_budget_blocks_that_key_only(up: UpProcess, bob: httpx.Client, deployment_id: str,
                                     deployment: dict[str, Any]) -> None:
    """Bob's key with a spend budget (``stop``) under its spend is refused with the OpenAI
    ``insufficient_quota`` error; his other key and his deployment carry on."""
    capped = bob.post("/api/keys", json={"name": "capped"}).json()
    free = bob.post("/api/keys", json={"name": "free"}).json()["key"]
    wait_answering(deployment, capped["key"])  # tokens metered for the capped key
    _price(up, deployment_id)
    assert bob.put(f"/api/budgets/keys/{capped['id']}",
                   json={"monthly_usd": 0.01, "action": "stop"}).status_code == 200
    _until(lambda: bob.get("/api/budgets").json()[0]["percent"] >= 100,
           "the capped key's tokens never showed as spend")
    body = {"model": deployment["endpoint_model"], "max_tokens": 1,
            "messages": [{"role": "user", "content": "hi"}]}
    url = f"{deployment['endpoint_url']}/chat/completions"

    def refused() -> bool:
        answer = httpx.post(url, json=body, timeout=60,
                            headers={"Authorization": f"Bearer {capped['key']}"})
        return answer.status_code == 429 and \
            answer.json()["error"]["code"] == "insufficient_quota"

    _until(refused, "the capped key was never refused")
    wait_answering(deployment, free)
    assert _wait(bob, deployment_id, "running")["desired_state"] == "running"
