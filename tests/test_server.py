"""The real ``flowllama up`` process: starts on a fresh data dir, answers HTTP, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from factories import STRONG_PASSWORD
from flowllama.db import migrate
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, User
from flowllama.queue import DatabaseQueue
from flowllama.queue.nudges import nudge
from processes import flowllama_up

pytestmark = pytest.mark.slow


@pytest.fixture
def running_up(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    with flowllama_up(tmp_path) as up:
        yield up.base_url, up.process, up.log_path


def test_up_serves_api_and_stops_cleanly(
    running_up: tuple[str, subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    base, process, log_path = running_up
    assert httpx.get(f"{base}/ready").json()["database"] == "ok"
    assert (tmp_path / "data" / "flowllama.db").is_file()
    registered = httpx.post(f"{base}/api/auth/register",
                            json={"email": "up@example.com", "password": STRONG_PASSWORD})
    assert registered.status_code == 201
    login = httpx.post(f"{base}/api/auth/login",
                       json={"email": "up@example.com", "password": STRONG_PASSWORD})
    token = login.json()["access_token"]
    me = httpx.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == "up@example.com"
    assert "FlowLlama" in httpx.get(base).text

    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    output = log_path.read_text()
    assert f"http://127.0.0.1:{base.rsplit(':', 1)[1]}" in output  # the URL is printed
    assert STRONG_PASSWORD not in output
    assert token not in output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_agent_works_the_queue_and_stops_cleanly(tmp_path: Path) -> None:
    """`flowllama serve agent` alone: takes a nudge from the database queue, records the
    outcome on the deployment (no AWS stack ships yet, so it fails with the reason), answers
    `/ready` on its metrics listener with its own loops, and exits 0 on SIGTERM."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'flowllama.db'}"
    migrate.upgrade(url)
    database = Database(url)
    offer = {"cloud": "aws", "region": "us-east-1", "instance_type": "g6.xlarge", "spot": False,
             "price_per_hour": 0.8, "gpu": "L4", "gpu_count": 1}
    with database.session() as session:
        user = User(email="agent@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="chat", model="llama3.1:8b",
                                context_size=8192, cloud="aws",
                                estimate={"candidates": [offer]})
        session.add(deployment)
        session.flush()
    nudge(DatabaseQueue(database), deployment)

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    metrics = f"http://127.0.0.1:{_free_port()}"
    env["FLOWLLAMA_METRICS_PORT"] = metrics.rsplit(":", 1)[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "flowllama", "serve", "agent", "--workers", "2",
         "--data-dir", str(data_dir)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while _status(database, deployment.id)[0] != "failed":
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        _, message = _status(database, deployment.id)
        assert "aws" in (message or "")
        ready = httpx.get(f"{metrics}/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        assert {"agent-worker-1", "agent-worker-2", "agent-sweeper", "agent-heartbeat",
                "webhook-dispatcher"} <= set(ready.json()["loops"])
        assert httpx.get(f"{metrics}/health", timeout=10).json()["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert process.stdout is not None
        started = [json.loads(line) for line in process.stdout.read().splitlines()
                   if b'"server.started"' in line]
        assert [(line["roles"], line["workers"]) for line in started] == [(["agent"], 2)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        database.dispose()


def _status(database: Database, deployment_id: str) -> tuple[str, str | None]:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status, row.status_message
