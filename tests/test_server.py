"""The real ``flowllama up`` process: starts on a fresh data dir, answers HTTP, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from factories import STRONG_PASSWORD
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
