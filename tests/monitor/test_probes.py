"""Probes against a scriptable loopback server: health, hung generation, spill to CPU, gone."""

from __future__ import annotations

import asyncio

import httpx

from flowllama.monitor.probes import Health, ProbeResult, Target, deep_probe, health_check
from tiny_model import free_port

from .conftest import FakeServer


def _target(url: str, runtime: str = "llamacpp", expects_gpu: bool = False) -> Target:
    return Target(instance_id="i", deployment_id="d", model="local/tiny", runtime=runtime,
                  server_url=url, health_path="/v1/models", expects_gpu=expects_gpu)


def _run(probe: str, target: Target, timeout_s: float = 2.0) -> ProbeResult:
    async def go() -> ProbeResult:
        async with httpx.AsyncClient() as client:
            if probe == "health":
                return await health_check(client, target, timeout_s)
            return await deep_probe(client, target, timeout_s)

    return asyncio.run(go())


def test_health_check_passes_and_measures(fake_server: FakeServer) -> None:
    result = _run("health", _target(fake_server.url))
    assert result.health is Health.HEALTHY and result.latency_ms is not None
    assert fake_server.requests == ["GET /v1/models"]


def test_health_check_fails_on_an_error_status_or_no_server(fake_server: FakeServer) -> None:
    fake_server.health_status = 503
    assert "HTTP 503" in (_run("health", _target(fake_server.url)).error or "")
    gone = _run("health", _target(f"http://127.0.0.1:{free_port()}"))
    assert gone.health is Health.UNHEALTHY and gone.refused
    assert "connection refused" in (gone.error or "")


def test_deep_probe_catches_a_hung_generation(fake_server: FakeServer) -> None:
    fake_server.hang_s = 3.0
    assert _run("health", _target(fake_server.url)).health is Health.HEALTHY
    result = _run("deep", _target(fake_server.url), timeout_s=0.5)
    assert result.health is Health.UNHEALTHY and "generation hangs" in (result.error or "")


def test_deep_probe_sees_an_ollama_model_spilled_to_cpu(fake_server: FakeServer) -> None:
    fake_server.ps_models = [{"name": "llama3.1:8b", "size": 6_000, "size_vram": 4_500}]
    result = _run("deep", _target(fake_server.url, "ollama", expects_gpu=True))
    assert result.health is Health.DEGRADED and "75%" in (result.error or "")
    fake_server.ps_models = [{"name": "llama3.1:8b", "size": 6_000, "size_vram": 6_000}]
    full = _run("deep", _target(fake_server.url, "ollama", expects_gpu=True))
    assert full.health is Health.HEALTHY


def test_cpu_deployments_are_never_called_spilled(fake_server: FakeServer) -> None:
    fake_server.ps_models = [{"name": "llama3.2:1b", "size": 6_000, "size_vram": 0}]
    result = _run("deep", _target(fake_server.url, "ollama", expects_gpu=False))
    assert result.health is Health.HEALTHY
