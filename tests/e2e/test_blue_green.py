"""A heal without a gap, end to end on a real ``flowllama up`` with the tiny model and real
llama.cpp: a running local deployment serves a steady, bounded stream of chat requests through
the gateway (two threads of the official ``openai`` client) while it is healed. The old server
keeps answering until its replacement (a second runtime in another slot) is healthy; then it
is drained and destroyed. No request fails, and exactly one runtime of the deployment is left.

What is simulated: the monitor's verdict. The test writes what ``monitor/verdicts.py`` writes
after failed health checks (``change_status_and_notify`` to ``unhealthy``, then a nudge of the
agent), while the server itself stays fine — so whatever the gateway sees during the heal is
the replacement's doing, not a dead server's. The monitor's own checks are spaced out so that
its next passing check (after the first, which the test waits for) does not call the
deployment "recovered before healing" first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance
from flowllama.domain.lifecycle import Status
from flowllama.providers.local.supervision import find_supervisors
from flowllama.queue.config import QueueSettings
from flowllama.queue.factory import build_queue
from flowllama.queue.nudges import nudge
from flowllama.runtimes import LlamaCppRuntime
from flowllama.services.deployment_status import change_status_and_notify
from processes import TIMEOUT_S, Api, UpProcess, flowllama_up, local_env

pytestmark = pytest.mark.slow

SETTINGS = {"FLOWLLAMA_MONITOR__INTERVAL_S": "600",
            "FLOWLLAMA_MONITOR__HEAL_BACKOFF_S": "0"}
MAX_REQUESTS = 400  # per client thread: the loop is bounded in count...
LOOP_S = 180.0  # ...and in time


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    with flowllama_up(tmp_path, local_env(tiny_model_file.parent, **SETTINGS)) as running:
        yield running


class Traffic:
    """Client threads sending short chat completions until told to stop (or their bounds)."""

    def __init__(self, deployment: dict[str, Any], api_key: str, threads: int = 2) -> None:
        self.client = openai.OpenAI(base_url=deployment["endpoint_url"], api_key=api_key,
                                    max_retries=0, timeout=60)
        self.model = deployment["endpoint_model"]
        self.ok = 0
        self.errors: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(90)

    def _loop(self) -> None:
        deadline = time.monotonic() + LOOP_S
        for _ in range(MAX_REQUESTS):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            try:
                reply = self.client.chat.completions.create(
                    model=self.model, max_tokens=4,
                    messages=[{"role": "user", "content": "Say hello"}])
                assert reply.choices[0].message.content is not None
            except Exception as exc:  # every failure is what the test counts
                with self._lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            else:
                with self._lock:
                    self.ok += 1


def _judge_unhealthy(db: Database, deployment_id: str) -> None:
    """What the monitor's verdict does after failed checks: the status move, then a nudge."""
    with db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.status == Status.RUNNING, row and row.status
        change_status_and_notify(session, row, Status.UNHEALTHY,
                                 "2 consecutive failed health checks",
                                 message="simulated by the test")
    nudge(build_queue(QueueSettings(), db), row)  # after the commit, as the monitor does


def _wait_first_check(db: Database, deployment_id: str) -> None:
    """Until the monitor's first check of the server is written (the next is 10 min away)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        with db.session() as session:
            checked = session.scalar(select(Instance.last_latency_ms).where(
                Instance.deployment_id == deployment_id, Instance.terminated_at.is_(None)))
        if checked is not None:
            return
        assert time.monotonic() < deadline, "the monitor never checked the server"
        time.sleep(0.2)


def _reasons(db: Database, deployment_id: str) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(DeploymentEvent.reason).where(
            DeploymentEvent.deployment_id == deployment_id)
            .order_by(DeploymentEvent.at, DeploymentEvent.id)))


def _wait_for(db: Database, deployment_id: str, reason: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while reason not in _reasons(db, deployment_id):
        assert time.monotonic() < deadline, _reasons(db, deployment_id)
        time.sleep(0.3)


def test_a_heal_under_traffic_loses_no_request(up: UpProcess) -> None:
    api = Api(up.base_url)
    created = api.http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    deployment_id = created.json()["id"]
    deployment = api.wait_status(deployment_id, "running")
    db = Database(f"sqlite:///{up.data_dir / 'flowllama.db'}")
    try:
        [old] = [s for s in find_supervisors(up.data_dir / "local")
                 if s.deployment_id == deployment_id]
        with Traffic(deployment, api.create_key()) as traffic:
            while traffic.ok < 4:  # traffic flows before the heal begins
                assert not traffic.errors, traffic.errors
                time.sleep(0.1)
            _wait_first_check(db, deployment_id)
            _judge_unhealthy(db, deployment_id)
            _wait_for(db, deployment_id, "healed: the replacement is up")
            before_switch = traffic.ok
            _wait_for(db, deployment_id, "first server drained and destroyed")
            served_after = traffic.ok
        assert traffic.errors == [], traffic.errors
        assert before_switch > 4 and served_after >= before_switch
    finally:
        db.dispose()

    left = [s for s in find_supervisors(up.data_dir / "local") if s.deployment_id == deployment_id]
    assert [(s.slot, s.pid != old.pid) for s in left] == [("s1", True)]
    healed = api.deployment(deployment_id)
    assert healed["status"] == "running"
    live = [i for i in healed["instances"] if i["terminated_at"] is None]
    assert len(live) == 1
