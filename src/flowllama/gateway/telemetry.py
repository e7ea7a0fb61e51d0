"""The gateway's domain metrics: tokens, time to first token, upstream latency and errors,
refusals and rate limits (instruments in :mod:`flowllama.metrics.instruments`).

Each helper caches the labelled child of a series: ``labels()`` takes a lock and hashes every
time, and these are called on every request. The caches are bounded like the series are: by
the number of deployments and of fixed kinds and codes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flowllama.metrics.instruments import (
    GATEWAY_RATE_LIMITED,
    GATEWAY_REFUSALS,
    GATEWAY_TOKENS,
    GATEWAY_TTFT_SECONDS,
    GATEWAY_UPSTREAM_ERRORS,
    GATEWAY_UPSTREAM_SECONDS,
)

UPSTREAM_ERROR_KINDS = ("unreachable", "busy", "timeout", "status_5xx", "status_4xx", "broken",
                        "stalled")
RATE_LIMIT_REASONS = ("requests", "tokens", "budget")
_CACHE = 4096


@lru_cache(maxsize=_CACHE)
def _tokens(deployment_id: str) -> tuple[Any, Any]:
    return (GATEWAY_TOKENS.labels(deployment_id, "prompt"),
            GATEWAY_TOKENS.labels(deployment_id, "completion"))


@lru_cache(maxsize=_CACHE)
def _ttft(deployment_id: str) -> Any:
    return GATEWAY_TTFT_SECONDS.labels(deployment_id)


@lru_cache(maxsize=_CACHE)
def _head(deployment_id: str) -> Any:
    return GATEWAY_UPSTREAM_SECONDS.labels(deployment_id)


@lru_cache(maxsize=_CACHE)
def _error(deployment_id: str, kind: str) -> Any:
    return GATEWAY_UPSTREAM_ERRORS.labels(deployment_id, kind)


@lru_cache(maxsize=256)
def _refusal(status: int, code: str) -> Any:
    return GATEWAY_REFUSALS.labels(str(status), code)


def tokens(deployment_id: str, prompt: int, completion: int) -> None:
    """Count the tokens of one answered request."""
    prompt_series, completion_series = _tokens(deployment_id)
    if prompt:
        prompt_series.inc(prompt)
    if completion:
        completion_series.inc(completion)


def first_token(deployment_id: str, seconds: float) -> None:
    """A stream's first event reached the client ``seconds`` after an instance was picked."""
    _ttft(deployment_id).observe(seconds)


def upstream_head(deployment_id: str, seconds: float) -> None:
    """An instance's response head arrived ``seconds`` after the first attempt began."""
    _head(deployment_id).observe(seconds)


def upstream_error(deployment_id: str, kind: str) -> None:
    """One upstream failure of ``kind`` (one of :data:`UPSTREAM_ERROR_KINDS`)."""
    assert kind in UPSTREAM_ERROR_KINDS, kind
    _error(deployment_id, kind).inc()


def refused(status: int, code: str | None) -> None:
    """The gateway answered an error of its own (codes are fixed strings in the code)."""
    _refusal(status, code or "none").inc()


def rate_limited(reason: str) -> None:
    """A 429 for ``reason`` (one of :data:`RATE_LIMIT_REASONS`)."""
    assert reason in RATE_LIMIT_REASONS, reason
    GATEWAY_RATE_LIMITED.labels(reason).inc()
