"""Running a real ``flowllama up`` process in a test: start it, wait for it, always stop it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tiny_model import free_port


@dataclass(frozen=True)
class UpProcess:
    """A running ``flowllama up``: its base URL, process, data dir and combined output."""

    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path


def wait_for(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Until ``url`` answers 200; fails at once if ``process`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"flowllama exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {timeout_s}s")


@contextmanager
def flowllama_up(tmp_path: Path, env: Mapping[str, str] | None = None) -> Iterator[UpProcess]:
    """``flowllama up`` on a free port and a fresh data dir under ``tmp_path``, with only the
    ``FLOWLLAMA_*`` variables given in ``env``; killed on exit if still running."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    data_dir = tmp_path / "data"
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowllama", "up", "--port", str(port),
             "--data-dir", str(data_dir)],
            env={**clean, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/health", process)
            yield UpProcess(base, process, data_dir, log_path)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
