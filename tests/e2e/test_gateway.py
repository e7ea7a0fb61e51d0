"""End to end through real processes: ``flowllama up`` serves ``/v1`` on its own port, and a
separate ``flowllama serve gateway`` on the same database serves the same keys and deployments.
A deployment of ``local/tiny`` (llama.cpp, for real) is chatted with through both gateways with
the official ``openai`` client; usage lands in the rollup; a key's rpm spent on one gateway is
refused by the other once they synced; a revoked key is refused at once by the process that
revoked it and within the key cache TTL by the other."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import create_engine, text

from factories import STRONG_PASSWORD
from flowllama.runtimes import LlamaCppRuntime
from log_capture import keep_process_log
from processes import UpProcess, flowllama_up, wait_for
from raw_http import read_until_closed
from tiny_model import free_port

pytestmark = pytest.mark.slow

TIMEOUT_S = 180
MESSAGES: list[Any] = [{"role": "user", "content": "Say hello"}]


def _env(tiny_model_file: Path) -> dict[str, str]:
    return {"FLOWLLAMA_MODELS_DIR": str(tiny_model_file.parent),
            "FLOWLLAMA_AGENT__WORKERS": "1", "FLOWLLAMA_AGENT__POLL_S": "0.2",
            "FLOWLLAMA_GATEWAY__KEY_CACHE_TTL_S": "1", "FLOWLLAMA_GATEWAY__ROUTE_CACHE_TTL_S": "1",
            "FLOWLLAMA_GATEWAY__USAGE_FLUSH_INTERVAL_S": "0.3",
            "FLOWLLAMA_GATEWAY__LIMIT_SYNC_INTERVAL_S": "0.3"}


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    with flowllama_up(tmp_path, _env(tiny_model_file)) as running:
        yield running


@contextmanager
def serve_gateway(data_dir: Path, env: dict[str, str], log_path: Path, *extra: str,
                  pids: list[int] | None = None) -> Iterator[str]:
    """``flowllama serve gateway`` (plus ``extra`` arguments) on a free port over
    ``data_dir``'s database; its process id is appended to ``pids``."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    keep_process_log(log_path)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowllama", "serve", "gateway", "--port", str(port),
             "--data-dir", str(data_dir), *extra], env={**clean, **env}, stdout=log,
            stderr=subprocess.STDOUT)
    if pids is not None:
        pids.append(process.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/v1/health", process)
        assert httpx.get(f"{base}/api/keys").status_code == 404, "the api role is not served"
        yield f"{base}/v1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _login(base_url: str) -> httpx.Client:
    http = httpx.Client(base_url=base_url, timeout=30)
    assert http.post("/api/auth/register", json={
        "email": "gw@example.com", "password": STRONG_PASSWORD}).status_code == 201
    tokens = http.post("/api/auth/login", json={
        "email": "gw@example.com", "password": STRONG_PASSWORD}).json()
    http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    return http


def _deploy(http: httpx.Client) -> None:
    created = http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    deadline = time.monotonic() + TIMEOUT_S
    while (body := http.get(f"/api/deployments/{created.json()['id']}").json())[
            "status"] != "running":
        assert body["status"] != "failed", body["status_message"]
        assert time.monotonic() < deadline, body
        time.sleep(0.3)


def _chat(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=4)
    assert reply.choices[0].message.content
    chunks = list(client.chat.completions.create(model="local/tiny", messages=MESSAGES,
                                                 max_tokens=4, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _rpm_is_shared(http: httpx.Client, up_url: str, other_v1: str) -> None:
    """A key's rpm of 3, one request on the other gateway and two on ``flowllama up``: once
    they synced, the other gateway refuses the fourth (429). (A gateway that never saw a key
    has no shared count for it until its next sync: see docs/gateway.md, "Limits".)"""
    limited = http.post("/api/keys", json={"name": "limited", "rpm": 3})
    assert limited.status_code == 201, limited.text
    secret = limited.json()["key"]
    here = openai.OpenAI(base_url=f"{up_url}/v1", api_key=secret, max_retries=0, timeout=60)
    there = openai.OpenAI(base_url=other_v1, api_key=secret, max_retries=0, timeout=60)
    there.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=2)
    for _ in range(2):
        here.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=2)
    time.sleep(1.5)  # five sync intervals: both gateways have written and read the counts
    with pytest.raises(openai.RateLimitError) as refused:
        there.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=2)
    assert int(refused.value.response.headers["retry-after"]) >= 1
    with pytest.raises(openai.RateLimitError):
        here.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=2)


def _refused_within(client: openai.OpenAI, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.models.list()
        except openai.AuthenticationError:
            return
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(0.1)


def _requests_metered(data_dir: Path) -> int:
    engine = create_engine(f"sqlite:///{data_dir / 'flowllama.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COALESCE(SUM(requests), 0) FROM usage_daily"))
                       .scalar_one())
    finally:
        engine.dispose()


def test_up_and_a_separate_gateway_serve_keys_route_meter_and_revoke(
        up: UpProcess, tmp_path: Path, tiny_model_file: Path) -> None:
    http = _login(up.base_url)
    _deploy(http)
    created = http.post("/api/keys", json={"name": "e2e"})
    assert created.status_code == 201, created.text
    key = created.json()
    local = openai.OpenAI(base_url=f"{up.base_url}/v1", api_key=key["key"], max_retries=0,
                          timeout=60)
    assert sorted(m.id for m in local.models.list()) == ["local/tiny", "tiny"]
    _chat(local)

    with serve_gateway(up.data_dir, _env(tiny_model_file), tmp_path / "gw.log") as v1:
        remote = openai.OpenAI(base_url=v1, api_key=key["key"], max_retries=0, timeout=60)
        _chat(remote)
        _rpm_is_shared(http, up.base_url, v1)
        deadline = time.monotonic() + 10
        while _requests_metered(up.data_dir) < 4:
            assert time.monotonic() < deadline, "usage from both gateways was not recorded"
            time.sleep(0.2)
        assert http.delete(f"/api/keys/{key['id']}").status_code == 204
        with pytest.raises(openai.AuthenticationError):
            local.models.list()  # the revoking process: at once
        _refused_within(remote, 5)  # another process: within its 1 s key cache TTL
    assert key["key"] not in up.log_path.read_text(errors="replace")

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _spawned_processes(pid: int) -> list[int]:
    """The gateway processes the supervisor ``pid`` started (not multiprocessing's helpers)."""
    return [child for child in _children(pid)
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def test_serve_gateway_workers_runs_that_many_processes(tmp_path: Path) -> None:
    pids: list[int] = []
    with serve_gateway(tmp_path, {}, tmp_path / "gw.log", "--workers", "2", pids=pids) as v1:
        deadline = time.monotonic() + 60
        while len(workers := _spawned_processes(pids[0])) < 2:
            assert time.monotonic() < deadline, "fewer than 2 gateway processes"
            time.sleep(0.2)
        assert len(workers) == 2
        for _ in range(20):  # each answers on the shared socket, in the OpenAI envelope
            refused = httpx.get(f"{v1}/models", headers={"Authorization": "Bearer fl-nope"})
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "invalid_api_key"
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a process outlived"


def test_gateway_processes_keep_the_head_deadline_and_ignore_forwarded_headers(
        tmp_path: Path) -> None:
    env = {"FLOWLLAMA_HTTP__HEADER_TIMEOUT_S": "1"}
    with serve_gateway(tmp_path, env, tmp_path / "gw.log", "--workers", "2") as v1:
        port = int(v1.rsplit(":", 1)[1].split("/")[0])
        silent = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(4)]
        try:
            started = time.monotonic()
            for conn in silent:  # spread over both processes by the kernel
                assert read_until_closed(conn).startswith(b"HTTP/1.1 408")
            assert time.monotonic() - started < 20  # the 1 s deadline, not never
        finally:
            for conn in silent:
                conn.close()
        for _ in range(10):  # from 127.0.0.1, which uvicorn itself would trust by default
            answer = httpx.get(f"{v1}/health", headers={
                "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
            assert answer.status_code == 200
            assert "strict-transport-security" not in answer.headers  # still plain http
            assert "server" not in answer.headers



def test_workers_is_refused_for_roles_without_them(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flowllama", "serve", "api", "--workers", "2", "--data-dir",
         str(tmp_path)], capture_output=True, timeout=60, check=False)
    assert result.returncode == 2 and b"--workers" in result.stderr
