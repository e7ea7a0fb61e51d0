"""Probes of one inference server: the quick health check, and the deep probe that catches a
server whose health path answers while generation hangs, or an Ollama model spilled to CPU.

Every probe is bounded by its own timeout and returns a :class:`ProbeResult`; none raises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx


class Health(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    DEGRADED = "degraded"  # serving, but worse than sized for (e.g. spilled to CPU)


@dataclass(frozen=True, slots=True)
class Target:
    """One instance to check, with what its probes need."""

    instance_id: str
    deployment_id: str
    model: str
    runtime: str
    server_url: str  # the server's root, e.g. http://127.0.0.1:8081
    health_path: str
    expects_gpu: bool
    # Sent with every probe: the deployment's runtime key (runtimes refuse requests without it).
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Where the deep probe's one-token chat goes, under ``server_url``.
    chat_path: str = "/v1/chat/completions"
    # A server FlowLlama does not run (``cloud: external``): probed with its own secret,
    # sealed here until the monitor opens it, instead of the runtime key.
    external: bool = False
    sealed_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    health: Health
    latency_ms: float | None
    error: str | None = None
    # Nothing listens at the address: the server process is gone, not merely slow.
    refused: bool = False


async def health_check(client: httpx.AsyncClient, target: Target, timeout_s: float
                       ) -> ProbeResult:
    """``GET`` the runtime's health path: 2xx within ``timeout_s`` is healthy."""
    started = time.perf_counter()
    try:
        response = await client.get(target.server_url + target.health_path, timeout=timeout_s,
                                    headers=target.headers)
    except httpx.ConnectError as exc:
        return ProbeResult(Health.UNHEALTHY, _ms(started),
                           f"health check failed: connection refused: {exc}", refused=True)
    except httpx.HTTPError as exc:
        return _failed(f"health check failed: {type(exc).__name__}: {exc}", started)
    latency = _ms(started)
    if not response.is_success:
        return ProbeResult(Health.UNHEALTHY, latency,
                           f"health check answered HTTP {response.status_code}")
    return ProbeResult(Health.HEALTHY, latency)


async def deep_probe(client: httpx.AsyncClient, target: Target, timeout_s: float
                     ) -> ProbeResult:
    """A one-token chat completion that must finish within ``timeout_s``; for Ollama on a GPU
    also ``/api/ps``, where ``size_vram < size`` means layers spilled to the CPU."""
    started = time.perf_counter()
    body = {"model": target.model, "max_tokens": 1, "stream": False,
            "messages": [{"role": "user", "content": "ping"}]}
    try:
        response = await client.post(target.server_url + target.chat_path, json=body,
                                     timeout=timeout_s, headers=target.headers)
    except httpx.TimeoutException:
        return _failed(f"deep probe: no 1-token answer within {timeout_s:g}s (generation hangs)",
                       started)
    except httpx.HTTPError as exc:
        return _failed(f"deep probe failed: {type(exc).__name__}: {exc}", started)
    latency = _ms(started)
    if not response.is_success:
        return ProbeResult(Health.UNHEALTHY, latency,
                           f"deep probe answered HTTP {response.status_code}")
    if target.runtime == "ollama" and target.expects_gpu:
        return await _spill_check(client, target, timeout_s, latency)
    return ProbeResult(Health.HEALTHY, latency)


async def _spill_check(client: httpx.AsyncClient, target: Target, timeout_s: float,
                       latency: float) -> ProbeResult:
    try:
        response = await client.get(target.server_url + "/api/ps", timeout=timeout_s,
                                    headers=target.headers)
        models: list[dict[str, Any]] = response.json().get("models") or []
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return ProbeResult(Health.HEALTHY, latency, f"/api/ps unreadable: {exc}")
    for loaded in models:
        size, vram = int(loaded.get("size") or 0), int(loaded.get("size_vram") or 0)
        if vram < size:
            share = vram / size if size else 0.0
            return ProbeResult(Health.DEGRADED, latency,
                               f"{loaded.get('name')}: only {share:.0%} in GPU memory "
                               f"({vram:,} of {size:,} bytes); the rest runs on the CPU")
    return ProbeResult(Health.HEALTHY, latency)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _failed(error: str, started: float) -> ProbeResult:
    return ProbeResult(Health.UNHEALTHY, _ms(started), error)
