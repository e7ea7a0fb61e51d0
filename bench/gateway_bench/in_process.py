"""The ``/v1`` application's own CPU per request, in process (no HTTP server in front): this
tree against another (``--in-process``, ``--in-process-only --baseline REF``) or against itself
with the body validation bypassed (``--in-process-only --validation``). Each run is a fresh
child process (``gateway.py --asgi-loop``) pinned to the proxy CPU, sources alternating."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .harness import BODY, PROXY_CPU, SCRIPT, pinning, start_upstream
from .paths import export_ref
from .seed import seed

NO_VALIDATION = "BENCH_GATEWAY_NO_VALIDATION"  # bench only: --asgi-loop without the check


async def _chat_once(app: Any, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """One non-streamed chat request through the ASGI ``app``; raises unless it answers 200."""
    statuses: list[int] = []
    sent = False
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never  # the client stays (until_disconnect listens after 50 ms)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
             "headers": headers, "state": {}}
    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"in-process chat answered {statuses}")


def asgi_loop(upstream_port: int, data_dir: Path, key: str, requests: int,
              concurrency: int) -> float:
    """CPU µs per chat request of the ``/v1`` application alone (no HTTP server in front),
    ``concurrency`` requests at a time, against the fake upstream: the gateway's own code is
    all this process runs, so the figure holds still on a busy host."""
    from flowllama.gateway import build_gateway
    from flowllama.gateway.endpoints import OpenAIEndpoints
    from flowllama.platform import build_platform
    from flowllama.settings import Settings

    body = json.dumps(BODY).encode()
    headers = [(b"authorization", f"Bearer {key}".encode()),
               (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]

    async def run() -> float:
        gateway = build_gateway(build_platform(Settings(data_dir=data_dir)))
        await gateway.start()
        app = OpenAIEndpoints(gateway)
        try:
            async def worker(count: int) -> None:
                for _ in range(count):
                    await _chat_once(app, body, headers)

            await asyncio.gather(*(worker(200) for _ in range(concurrency)))  # warm up
            gc.collect()  # as the server does before serving (server._run_http)
            gc.freeze()
            started = time.process_time()
            await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
            return (time.process_time() - started) * 1e6 / (requests // concurrency * concurrency)
        finally:
            await gateway.stop()

    return asyncio.run(run())


def bypass_validation() -> None:
    """Swap the ``/v1`` body check for a bare ``json.loads`` (what the gateway did before
    the allow-list), in this process only: the A/B of ``--validation``."""
    from flowllama.gateway import endpoints
    from flowllama.gateway.requests import ClientRequest

    def unchecked(raw: bytes, required: str) -> ClientRequest:  # parse's signature, unchecked
        body = json.loads(raw)
        options = body.get("stream_options")
        return ClientRequest(body=body, model=body["model"], stream=bool(body.get("stream")),
                             wants_usage=bool(options and options.get("include_usage")))

    endpoints.parse = unchecked  # type: ignore[attr-defined]


def asgi_loop_child(arguments: list[str]) -> None:
    """One :func:`asgi_loop` run (a child of :func:`in_process`); prints its figure."""
    port, data_dir, key, requests, concurrency = arguments
    if os.environ.get(NO_VALIDATION) == "1":
        bypass_validation()
    print(asgi_loop(int(port), Path(data_dir), key, int(requests), int(concurrency)))


def in_process(upstream_port: int, data_dir: Path, key: str,
               sources: dict[str, dict[str, str]], rounds: int, requests: int = 4000,
               concurrency: int = 16) -> dict[str, float]:
    """:func:`asgi_loop` for each source (its environment: ``PYTHONPATH`` of another tree,
    or :data:`NO_VALIDATION`), alternating, ``rounds`` times, each in a fresh process pinned to
    the proxy CPU: the median per source."""
    runs: dict[str, list[float]] = {name: [] for name in sources}
    for number in range(rounds):
        for name, extra in (list(sources.items()) if number % 2 == 0
                            else list(sources.items())[::-1]):
            env = {**os.environ, **extra}
            result = subprocess.run(
                [sys.executable, str(SCRIPT), "--asgi-loop", str(upstream_port), str(data_dir),
                 key, str(requests), str(concurrency)], env=env, capture_output=True,
                text=True, check=True, preexec_fn=pinning(PROXY_CPU))
            runs[name].append(float(result.stdout.split()[-1]))
            print(f"in-process round {number + 1}: {name} {runs[name][-1]:.1f} µs/req",
                  file=sys.stderr, flush=True)
    return {name: statistics.median(values) for name, values in runs.items()}


def in_process_only(baseline: str | None, rounds: int) -> dict[str, float]:
    """:func:`in_process` for this tree and ``baseline`` (None: this tree with the body
    validation bypassed) with just the fake upstream running (no HTTP servers, no wrk): the
    gateway's own CPU per request, with and without."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        port, _pid = start_upstream(stack)
        key = seed(Path(tmp), f"http://127.0.0.1:{port}/v1")
        other = ({f"gateway@{baseline}": {"PYTHONPATH": str(export_ref(baseline, Path(tmp)))}}
                 if baseline else {"gateway, no validation": {NO_VALIDATION: "1"}})
        return in_process(port, Path(tmp), key, {"gateway": {}, **other}, rounds)


def in_process_figure(inproc: dict[str, float]) -> list[dict[str, Any]]:
    """This tree's in-process CPU per request over the other source's (none when not run)."""
    if not inproc:
        return []
    [(_name, now), (base, before)] = inproc.items()
    return [{"figure": f"in-process /v1 CPU µs/req, gateway / {base} (c=16)",
             "path": "gateway", "value": now / before, "unit": "x",
             "target": "< 1.05x", "met": now / before < 1.05}]


def print_in_process_only(baseline: str | None, rounds: int, validation: bool) -> None:
    """The ``--in-process-only`` mode: :func:`in_process_only` (at least 3 rounds), as JSON."""
    if not baseline and not validation:
        sys.exit("--in-process-only needs --baseline REF or --validation")
    inproc = in_process_only(baseline, max(rounds, 3))
    print(json.dumps({"in_process_cpu_us": inproc, "derived": in_process_figure(inproc)},
                     indent=2))
