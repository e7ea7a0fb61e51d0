"""Ollama's ``POST /api/pull`` stream, folded into progress fractions.

Ollama answers a pull with NDJSON lines: ``{"status": "pulling manifest"}``, then for each
layer ``{"status": "pulling <digest>", "digest", "total", "completed"}`` (layers download in
parallel, so their lines interleave), then ``verifying sha256 digest``, ``writing manifest``
and ``{"status": "success"}``. A failure is a line ``{"error": "..."}``, or an HTTP error status
with the same body. Overall progress is bytes completed over bytes announced, across layers.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from flowllama.runtimes.base import ProgressCallback, PullProgress
from flowllama.runtimes.errors import ModelNotFound, ModelPullFailed

SUCCESS = "success"
# Ollama can verify a large blob for minutes without writing a line.
READ_TIMEOUT_S = 300.0
CONNECT_TIMEOUT_S = 10.0
# Far above any real pull (a few lines per layer per second), so only a broken server hits it.
MAX_LINES = 2_000_000
_MISSING_MODEL_HINTS = ("file does not exist", "not found")


class PullTracker:
    """Accumulates pull lines into one monotonic progress fraction."""

    def __init__(self) -> None:
        self._totals: dict[str, int] = {}
        self._completed: dict[str, int] = {}
        self._fraction: float | None = None
        self.succeeded = False

    def feed(self, line: dict[str, Any]) -> PullProgress:
        """Account for one decoded line; raise ``ModelPullFailed``/``ModelNotFound`` on error."""
        if "error" in line:
            raise _pull_error(str(line["error"]))
        status = str(line.get("status", ""))
        digest = line.get("digest")
        if isinstance(digest, str) and digest:
            total = _non_negative_int(line.get("total"))
            if total:
                self._totals[digest] = total
                completed = _non_negative_int(line.get("completed"))
                self._completed[digest] = min(completed, total)
        if status == SUCCESS:
            self.succeeded = True
            self._fraction = 1.0
        elif self._totals:
            fraction = sum(self._completed.values()) / sum(self._totals.values())
            # A layer announced late adds to the total; never show progress going backwards.
            self._fraction = max(fraction, self._fraction or 0.0)
        return PullProgress(
            status=status,
            fraction=self._fraction,
            completed_bytes=sum(self._completed.values()),
            total_bytes=sum(self._totals.values()),
        )


def parse_pull_line(raw: str) -> dict[str, Any] | None:
    """One NDJSON line as a dict; None for a blank line; ``ModelPullFailed`` if not JSON."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelPullFailed(f"Ollama sent an unreadable pull line: {text[:200]!r}") from exc
    if not isinstance(value, dict):
        raise ModelPullFailed(f"Ollama sent an unexpected pull line: {text[:200]!r}")
    return value


def pull_model(
    client: httpx.Client,
    model: str,
    progress: ProgressCallback | None = None,
    *,
    timeout_s: float,
) -> None:
    """Pull ``model`` through ``client`` (base URL = the Ollama server), reporting progress.

    Returns after the ``success`` line. Raises ``ModelNotFound`` for an unknown tag and
    ``ModelPullFailed`` for any other error, a stream that ends early, or ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    tracker = PullTracker()
    timeout = httpx.Timeout(CONNECT_TIMEOUT_S, read=min(READ_TIMEOUT_S, timeout_s))
    body = {"model": model, "stream": True}
    try:
        with client.stream("POST", "/api/pull", json=body, timeout=timeout) as response:
            if not response.is_success:
                raise _pull_error(_error_text(response))
            for count, raw in enumerate(response.iter_lines()):
                if count >= MAX_LINES or time.monotonic() > deadline:
                    raise ModelPullFailed(f"Pulling {model} did not finish in {timeout_s:g}s")
                line = parse_pull_line(raw)
                if line is None:
                    continue
                step = tracker.feed(line)
                if progress is not None:
                    progress(step)
                if tracker.succeeded:
                    return
    except httpx.HTTPError as exc:
        raise ModelPullFailed(f"Pulling {model} failed: {type(exc).__name__}: {exc}") from exc
    raise ModelPullFailed(f"Ollama ended the pull of {model} without reporting success")


def _pull_error(message: str) -> ModelNotFound | ModelPullFailed:
    # Retrying a tag the registry does not have is pointless, so it gets its own error.
    if any(hint in message.lower() for hint in _MISSING_MODEL_HINTS):
        return ModelNotFound(f"Ollama cannot pull the model: {message}")
    return ModelPullFailed(f"Ollama failed to pull the model: {message}")


def _error_text(response: httpx.Response) -> str:
    response.read()
    try:
        payload = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(payload, dict) and "error" in payload:
        return str(payload["error"])
    return f"HTTP {response.status_code}"


def _non_negative_int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0
