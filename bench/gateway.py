"""Benchmark the token gateway's overhead: the same requests straight to a fast fake upstream
and through ``flowllama serve gateway`` in front of it, side by side in one run.

Setup: a fresh SQLite data dir with one user, one API key and one running deployment whose
instance is the fake upstream (a bare ASGI app under uvicorn answering a fixed chat completion,
or 8 SSE events for ``stream: true``). The upstream is pinned to CPU 0 and the gateway to CPU 1
where the machine has them; the load generator (asyncio + httpx, keep-alive connections) runs
unpinned. Each path is measured for ``--seconds`` per round, ``--rounds`` times, and the median
round is reported: requests/s and p50/p99 latency at concurrency 1 and 16, and time to first
byte of streamed answers at concurrency 1.

A Python load generator caps throughput on small machines, so requests/s compares paths under
the same generator; the added p50 at concurrency 1 is the gateway's own cost per request.

With ``--litellm PATH`` (or a ``litellm`` on PATH) a third path is measured in the same run:
LiteLLM's proxy, one worker, with a generated config routing the model to the same fake upstream
as an OpenAI-compatible endpoint (pinned to CPU 1 like the gateway, started only while measured).

Run: python3 bench/gateway.py [--seconds 5] [--rounds 3] [--json] [--litellm PATH]
"""

from __future__ import annotations

import os
import sys

# ``python3 bench/gateway.py`` puts bench/ first on sys.path, where bench/queue.py would shadow
# the standard library's ``queue`` (which asyncio's helpers import).
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(
    os.path.abspath(__file__)
):
    sys.path.pop(0)

import argparse
import asyncio
import json
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

CHAT = json.dumps({
    "id": "b1", "object": "chat.completion", "created": 1, "model": "bench",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hello there"}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}).encode()
EVENT = (b'data: {"id":"b1","object":"chat.completion.chunk","created":1,"model":"bench",'
         b'"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n')
BODY = {"model": "bot", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The fake upstream: a fixed answer, or 8 events when the body asks for a stream."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if b'"stream":true' in body:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for _ in range(8):
            await send({"type": "http.response.body", "body": EVENT, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": CHAT})


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin(process: subprocess.Popen[bytes], cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(process.pid, {cpu})


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url}: process exited"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def _process(args: list[str], cpu: int, url: str, env: dict[str, str] | None = None
             ) -> Iterator[None]:
    process = subprocess.Popen(args, env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _pin(process, cpu)
        _wait(url, process)
        yield
    finally:
        process.terminate()
        process.wait(20)


def _seed(data_dir: Path, upstream_v1: str) -> str:
    """Migrate the data dir's SQLite database; add a user, a key and a running deployment."""
    from flowllama.db import migrate
    from flowllama.db.session import Database
    from flowllama.db.tables import Deployment, Instance, User
    from flowllama.domain.keys import ApiKeyCreate
    from flowllama.services import api_keys

    url = f"sqlite:///{data_dir / 'flowllama.db'}"
    migrate.upgrade(url)
    db = Database(url)
    with db.session() as session:
        user = User(email="bench@example.com", password_hash="x")
        session.add(user)
        session.flush()
        _row, key = api_keys.create(session, user, ApiKeyCreate(name="bench"))
        deployment = Deployment(user_id=user.id, name="bot", model="bench", context_size=512,
                                status="running", desired_state="running", runtime="ollama")
        session.add(deployment)
        session.flush()
        session.add(Instance(deployment_id=deployment.id, provider="local", status="healthy",
                             endpoint_url=upstream_v1))
    db.dispose()
    return key


async def _load(url: str, headers: dict[str, str], body: dict[str, Any], concurrency: int,
                seconds: float) -> dict[str, float]:
    """Requests/s, p50 and p99 latency (and median time to first byte) over ``seconds``."""
    latencies: list[float] = []
    first_bytes: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                first: float | None = None
                async with client.stream("POST", url, json=body, headers=headers) as response:
                    async for _chunk in response.aiter_raw():
                        if first is None:
                            first = time.perf_counter() - started
                    assert response.status_code == 200, response.status_code
                latencies.append(time.perf_counter() - started)
                if first is not None:
                    first_bytes.append(first)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies.sort()
    return {"rps": len(latencies) / seconds,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
            "ttfb_ms": 1000 * statistics.median(first_bytes) if first_bytes else 0.0}


CASES = [("chat c=1", 1, False), ("chat c=16", 16, False), ("stream c=1", 1, True)]


def _measure(targets: dict[str, tuple[str, dict[str, str]]], seconds: float, rounds: int
             ) -> dict[str, dict[str, dict[str, float]]]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    for case, concurrency, stream in CASES:
        body = {**BODY, "stream": True} if stream else BODY
        for name, (url, headers) in targets.items():
            runs = [asyncio.run(_load(url, headers, body, concurrency, seconds))
                    for _ in range(rounds)]
            runs.sort(key=lambda r: r["rps"])
            results.setdefault(case, {})[name] = runs[len(runs) // 2]  # the median round
    return results


def _print(results: dict[str, dict[str, dict[str, float]]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("case", "path", "requests/s", "p50 ms", "p99 ms", "first byte ms")
    for case, paths in results.items():
        for name, r in paths.items():
            table.add_row(case, name, f"{r['rps']:.0f}", f"{r['p50_ms']:.2f}",
                          f"{r['p99_ms']:.2f}", f"{r['ttfb_ms']:.2f}" if r["ttfb_ms"] else "")
    Console().print(table)


def _litellm_config(tmp: Path, upstream_v1: str, master_key: str) -> Path:
    """A LiteLLM proxy config: the model ``bot`` is ``openai/bench`` at the fake upstream;
    requests authenticate with ``master_key`` (checked in memory, no database)."""
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {BODY['model']}\n"
        "    litellm_params:\n"
        "      model: openai/bench\n"
        f"      api_base: {upstream_v1}\n"
        "      api_key: dummy\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  drop_params: true\n")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--litellm", default=shutil.which("litellm"),
                        help="the litellm executable (default: litellm on PATH, if any)")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        import uvicorn

        uvicorn.run(upstream_app, host="127.0.0.1", port=args.serve_upstream,
                    log_level="warning", access_log=False)
        return
    up_port, gw_port = _free_port(), _free_port()
    upstream_v1 = f"http://127.0.0.1:{up_port}/v1"
    with tempfile.TemporaryDirectory() as tmp:
        key = _seed(Path(tmp), upstream_v1)
        env = {"FLOWLLAMA_LOG_LEVEL": "warning", "FLOWLLAMA_ENV": "development"}
        with _process([sys.executable, __file__, "--serve-upstream", str(up_port)], 0,
                      f"http://127.0.0.1:{up_port}/"), \
             _process([sys.executable, "-m", "flowllama", "serve", "gateway", "--port",
                       str(gw_port), "--data-dir", tmp], 1,
                      f"http://127.0.0.1:{gw_port}/v1/health", env):
            results = _measure({
                "direct": (f"{upstream_v1}/chat/completions", {}),
                "gateway": (f"http://127.0.0.1:{gw_port}/v1/chat/completions",
                            {"Authorization": f"Bearer {key}"}),
            }, args.seconds, args.rounds)
            if args.litellm:
                ll_port = _free_port()
                ll_env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                          "LITELLM_TELEMETRY": "False"}
                master_key = f"sk-{secrets.token_hex(32)}"
                config = _litellm_config(Path(tmp), upstream_v1, master_key)
                with _process([args.litellm, "--config", str(config),
                               "--host", "127.0.0.1", "--port", str(ll_port), "--num_workers", "1"],
                              1, f"http://127.0.0.1:{ll_port}/health/liveliness", ll_env):
                    results_ll = _measure({
                        "litellm": (f"http://127.0.0.1:{ll_port}/v1/chat/completions",
                                    {"Authorization": f"Bearer {master_key}"}),
                    }, args.seconds, args.rounds)
                for case, paths in results_ll.items():
                    results[case].update(paths)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)


if __name__ == "__main__":
    main()
