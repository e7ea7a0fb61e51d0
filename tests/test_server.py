"""The real ``flowllama up`` process: starts on a fresh data dir, answers HTTP, stops on SIGTERM."""

from __future__ import annotations

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

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"flowllama up exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {timeout_s}s")


@pytest.fixture
def running_up(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowllama", "up", "--port", str(port),
             "--data-dir", str(tmp_path / "data")],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/health", process)
            yield base, process, log_path
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)


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
