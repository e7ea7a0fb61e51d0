"""A local Ollama behind its keyed front (issue 17: only the gateway and the monitor get answers
from a local runtime). The fake ``ollama`` program runs as the runtime, in its private network
namespace: without the deployment's runtime key the front answers 401, the runtime's own port
cannot be reached from this host, what the gateway and the monitor send (the key) gets answers,
streams arrive line by line, model pulls still get out, and a machine that cannot isolate it
refuses it unless the operator allowed an unisolated one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import stat
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from tests.providers.local.conftest import HeadServer

from flowllama.gateway.routes import _auth_headers
from flowllama.monitor.probes import Health, ProbeResult, Target, health_check
from flowllama.providers import DeploymentSpec, Unsupported
from flowllama.providers.local import (
    LOCAL_PLACEMENT,
    LocalOptions,
    LocalProvisioner,
    MemorySnapshot,
    fronting,
    isolation,
    supervision,
)
from flowllama.security.runtime_keys import RuntimeKeys

pytestmark = pytest.mark.slow

MakeProvisioner = Callable[..., LocalProvisioner]
BIG_MACHINE = MemorySnapshot(64 * 1024**3, 64 * 1024**3, "test")
KEYS = RuntimeKeys("isolation-test-secret")
SPEC = DeploymentSpec(deployment_id="d1", user_id="u1", name="chat", model="qwen2.5:0.5b",
                      context_size=512)


@pytest.fixture
def isolatable() -> None:
    reason = isolation.unavailable_reason(sys.executable)
    if reason is not None:
        pytest.skip(f"this machine cannot isolate runtimes: {reason}")


@pytest.fixture
def keyed_options(ollama_options: Callable[..., LocalOptions],
                  fake_ollama_executable: Path) -> Callable[..., LocalOptions]:
    def build(**changes: Any) -> LocalOptions:
        return ollama_options(fake_ollama_executable, read_memory=lambda: BIG_MACHINE,
                              runtime_keys=KEYS, **changes)

    return build


@pytest.fixture
def upstream_proxy(head_server: HeadServer) -> tuple[str, list[bytes]]:
    """An operator's HTTPS proxy on this host: records each CONNECT head, then answers the
    tunnelled request itself with ``hello from outside``."""
    listener = socket.create_server(("127.0.0.1", 0))

    def tunnel(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        request = b""
        while b"\r\n\r\n" not in request and (chunk := conn.recv(4096)):
            request += chunk
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\nConnection: close\r\n"
                     b"\r\nhello from outside")

    return f"http://127.0.0.1:{listener.getsockname()[1]}", head_server(listener, tunnel)


def _monitor_check(target: Target) -> ProbeResult:
    async def check() -> ProbeResult:
        async with httpx.AsyncClient() as client:
            return await health_check(client, target, 10)

    return asyncio.run(check())


def test_only_the_runtime_key_gets_answers_and_the_runtime_port_is_private(
    isolatable: None, make_provisioner: MakeProvisioner,
    keyed_options: Callable[..., LocalOptions], upstream_proxy: tuple[str, list[bytes]],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    proxy_url, connects = upstream_proxy
    monkeypatch.setenv("HTTPS_PROXY", proxy_url)  # the operator's proxy, passed to runtimes
    provisioner = make_provisioner(options=keyed_options())
    # The create itself (health check, pull, load) went through the front with the key; a
    # host program on the runtime's inner port (Ollama's default) does not get in its way.
    with contextlib.ExitStack() as host_side:
        with contextlib.suppress(OSError):  # unless a real Ollama holds it already
            host_side.enter_context(socket.create_server(("127.0.0.1", fronting.INNER_PORT)))
        handle = provisioner.create(SPEC, LOCAL_PLACEMENT)
    front = f"http://127.0.0.1:{handle.data['port']}"
    wrong = RuntimeKeys("another-secret").headers("d1")
    for headers in ({}, {"Authorization": "Bearer unused"}, wrong, KEYS.headers("d2"),
                    {"Authorization": KEYS.key("d1")}):
        refused = httpx.get(f"{front}/api/tags", headers=headers, timeout=10)
        assert refused.status_code == 401, (headers, refused.text)
        posted = httpx.post(f"{front}/api/chat", headers=headers, timeout=10,
                            json={"model": SPEC.model, "messages": []})
        assert posted.status_code == 401
    # What the gateway and the monitor send: the deployment's key.
    gateway_headers = dict(_auth_headers(SimpleNamespace(id="d1", cloud="local"), KEYS, {}))
    assert gateway_headers == KEYS.headers("d1")
    keyed = httpx.Client(base_url=front, headers=gateway_headers, timeout=30)
    assert keyed.get("/api/tags").status_code == 200
    target = Target(instance_id="i1", deployment_id="d1", model=SPEC.model, runtime="ollama",
                    server_url=front, health_path="/api/tags", expects_gpu=False)
    assert _monitor_check(replace(target, headers=tuple(KEYS.headers("d1").items()))).health \
        is Health.HEALTHY
    assert _monitor_check(target).error == "health check answered HTTP 401"
    assert provisioner.refresh(handle).running  # the provisioner's probe, with the key
    seen = keyed.get("/fake/env").json()
    assert seen["flowllama_variables"] == []  # the key stays with the supervisor
    inner_port = int(seen["env"]["OLLAMA_HOST"].rpartition(":")[2])
    assert inner_port == fronting.INNER_PORT != handle.data["port"]  # its own, in its namespace
    with pytest.raises(httpx.ConnectError):  # the runtime's own port: not on this host
        httpx.get(f"http://127.0.0.1:{inner_port}/api/tags", timeout=5)
    sockets = provisioner.root / "sockets"
    assert stat.S_IMODE(sockets.stat().st_mode) == 0o700

    # A stream arrives line by line: the first line before the runtime sends the second.
    gate = tmp_path / "gate"
    with keyed.stream("POST", "/api/chat", json={"model": SPEC.model, "messages": [],
                                                 "gate": str(gate)}) as stream:
        lines = stream.iter_lines()
        assert json.loads(next(lines))["message"]["content"] == "hello"
        gate.touch()
        rest = [json.loads(line) for line in lines if line]
    assert [line["done"] for line in rest] == [False, True]

    # Model pulls still get out, through the operator's proxy.
    out = keyed.post("/fake/egress", json={"host": "registry.example", "port": 443}).json()
    assert out["connect"].startswith("HTTP/1.1 200") and out["answer"].endswith(
        "hello from outside")
    assert [head.split(b"\r\n", 1)[0] for head in connects] == [
        b"CONNECT registry.example:443 HTTP/1.1"]
    keyed.close()
    provisioner.destroy(handle)
    assert supervision.find_supervisors(provisioner.root) == []


def test_without_namespaces_a_local_ollama_is_refused_unless_allowed(
    make_provisioner: MakeProvisioner, keyed_options: Callable[..., LocalOptions],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reason = "unprivileged user namespaces are unavailable here (unshare: Operation not permitted)"
    monkeypatch.setattr(isolation, "unavailable_reason", lambda _python: reason)
    provisioner = make_provisioner(options=keyed_options())
    with pytest.raises(Unsupported) as caught:
        provisioner.create(SPEC, LOCAL_PLACEMENT)
    assert reason in str(caught.value)
    assert "FLOWLLAMA_AGENT__LOCAL_ALLOW_UNISOLATED_OLLAMA" in str(caught.value)
    assert not caught.value.retryable
    assert supervision.find_supervisors(provisioner.root) == [] and provisioner.find(SPEC) is None

    # Allowed by the operator (single-user hosts): plain loopback, with no key checked.
    allowed = make_provisioner(options=keyed_options(allow_unisolated=True))
    handle = allowed.create(SPEC, LOCAL_PLACEMENT)
    open_port = httpx.get(f"http://127.0.0.1:{handle.data['port']}/api/tags", timeout=10)
    assert open_port.status_code == 200
    allowed.destroy(handle)


def test_a_failed_isolation_probe_is_believed_for_a_while_a_success_for_good(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(isolation, "_isolatable", set())
    monkeypatch.setattr(isolation, "_failures", {})
    answers = ["the isolation probe could not run: timed out", None, "unshare: EPERM"]
    probes: list[str] = []

    def probe(python: str) -> str | None:
        probes.append(python)
        return answers[len(probes) - 1]

    monkeypatch.setattr(isolation, "_probe", probe)
    assert isolation.unavailable_reason("py") == answers[0]  # a transient failure (a timeout)
    assert isolation.unavailable_reason("py") == answers[0]  # believed for FAILURE_TTL_S
    assert len(probes) == 1
    monkeypatch.setattr(isolation, "FAILURE_TTL_S", 0.0)  # ... then asked again
    assert isolation.unavailable_reason("py") is None
    assert isolation.unavailable_reason("py") is None  # a success is kept
    assert len(probes) == 2
