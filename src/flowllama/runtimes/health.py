"""Wait for a freshly started runtime to answer its health check, or say why it never will."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Protocol

import httpx

from flowllama.runtimes.errors import RuntimeExited, RuntimeStartTimeout

# One health request may take this long; a loading server often accepts and then stalls.
REQUEST_TIMEOUT_S = 2.0


class Process(Protocol):
    """Anything with ``poll()`` like ``subprocess.Popen``: None while running, else the code."""

    def poll(self) -> int | None: ...


def wait_healthy(
    base_url: str,
    health_path: str,
    timeout_s: float,
    process: Process | None = None,
    *,
    interval_s: float = 0.25,
    headers: Mapping[str, str] | None = None,
) -> float:
    """Poll ``GET base_url + health_path`` until it answers 2xx; return the seconds it took.

    Raises ``RuntimeExited`` as soon as ``process`` (when given) has exited, and
    ``RuntimeStartTimeout`` with the last error after ``timeout_s``. Proxies from the
    environment are ignored: the runtime is always reached directly. ``headers`` go with every
    request (the runtime key).
    """
    url = base_url.rstrip("/") + health_path
    started = time.monotonic()
    deadline = started + timeout_s
    last_error = "no answer yet"
    max_attempts = math.ceil(timeout_s / interval_s) + 1
    with httpx.Client(trust_env=False, headers=headers) as client:
        for _attempt in range(max_attempts):
            _raise_if_exited(process, url)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                response = client.get(url, timeout=min(REQUEST_TIMEOUT_S, remaining))
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return time.monotonic() - started
                last_error = f"HTTP {response.status_code}"
            time.sleep(max(0.0, min(interval_s, deadline - time.monotonic())))
    _raise_if_exited(process, url)
    raise RuntimeStartTimeout(f"{url} was not healthy after {timeout_s:g}s ({last_error})")


def _raise_if_exited(process: Process | None, url: str) -> None:
    if process is None:
        return
    code = process.poll()
    if code is not None:
        raise RuntimeExited(
            f"The runtime process exited with code {code} before {url} became healthy"
        )
