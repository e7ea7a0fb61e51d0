"""The processes of the gateway benchmark: CPU pinning, starting a server and waiting until it
answers, and the fake upstream's process; the request body every path is sent."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

# Pinning assumes 2 cores: the proxy under test alone on one, the upstream and the load
# generator on the other.
UPSTREAM_CPU, PROXY_CPU = 0, 1
BODY = {"model": "bot", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
# The benchmark's entry point: child processes (the fake upstream, one in-process run) are
# this script again, with a hidden mode flag.
SCRIPT = Path(__file__).resolve().parent.parent / "gateway.py"
REPOSITORY = SCRIPT.parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinning(cpu: int | set[int]) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning the child to ``cpu`` (one or a set) before exec, so that every
    thread and process it starts inherits the pin; None where the machine lacks that CPU."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return None
    cpus = cpu if isinstance(cpu, set) else {cpu}
    return lambda: os.sched_setaffinity(0, cpus)


def _get_status(url: str) -> int:
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        connection.request("GET", "/" + path)
        return connection.getresponse().status
    finally:
        connection.close()


def _wait(url: str, process: subprocess.Popen[bytes], log: IO[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited ({process.returncode}):\n{_tail(log)}")
        try:
            if _get_status(url) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s:\n{_tail(log)}")


def _tail(log: IO[bytes], chars: int = 3000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-chars:]


@contextmanager
def process(args: list[str], cpu: int | set[int], ready_url: str,
            env: dict[str, str] | None = None,
            timeout: float = 60) -> Iterator[int]:
    """Run ``args`` pinned to ``cpu`` (stdout to /dev/null, stderr kept for errors) until the
    ``with`` ends; wait until ``ready_url`` answers 200 first. Yields the process id."""
    with tempfile.TemporaryFile() as log:
        # Pinned before exec, so no thread of the child escapes; this script starts no threads,
        # so preexec_fn is safe here.
        child = subprocess.Popen(args, env={**os.environ, **(env or {})},
                                 stdout=subprocess.DEVNULL, stderr=log,
                                 preexec_fn=pinning(cpu))  # noqa: PLW1509
        try:
            _wait(ready_url, child, log, timeout)
            yield child.pid
        finally:
            child.terminate()
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def start_upstream(stack: ExitStack) -> tuple[int, int]:
    """Start the fake upstream (``gateway.py --serve-upstream``) on the upstream CPU until
    ``stack`` closes: (port, pid)."""
    port = free_port()
    pid = stack.enter_context(process(
        [sys.executable, str(SCRIPT), "--serve-upstream", str(port)], UPSTREAM_CPU,
        f"http://127.0.0.1:{port}/"))
    return port, pid
