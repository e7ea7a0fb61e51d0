"""Benchmark wake on request (issue 18): the time to first token of a chat request to a
sleeping local deployment (the gateway wakes it and holds the request until llama.cpp serves)
against the same request to the warm deployment right after, in one run.

Setup: ``flowllama up`` on a fresh data dir with the tiny GGUF model (llama.cpp, for real), the
autopilot ticking every 0.5 s and ``FLOWLLAMA_AUTOPILOT__MIN_IDLE_TIMEOUT_S=1``; one user, one
API key, one ``local/tiny`` deployment (context 512). Each round: set its idle timeout to 1 s
(in the database; the API's PATCH is not needed for a bench) and wait until it is ``sleeping``
and its runtime process is gone; clear the timeout; then a streamed chat request
(``max_tokens`` 8) through the gateway with the official ``openai`` client, timing the first
content event ("after sleep"), and at once the same request again ("warm"). Reported: the
median, min and max of each over ``--rounds`` rounds, and their difference (the wake cost).

Run: python3 bench/wake.py [--rounds 5] [--json]
"""

from __future__ import annotations

import os
import sys

# ``python3 bench/wake.py`` puts bench/ first on sys.path, where bench/queue.py would shadow
# the standard library's ``queue``.
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(
    os.path.abspath(__file__)
):
    sys.path.pop(0)

import argparse
import json
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import openai

from flowllama.devtools.tiny_model import write_tiny_model
from flowllama.providers.local.supervision import find_supervisors

PASSWORD = "bench-Password-123!"
MESSAGES: list[Any] = [{"role": "user", "content": "Say hello"}]
TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _up(data_dir: Path, models_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    env.update({"FLOWLLAMA_MODELS_DIR": str(models_dir), "FLOWLLAMA_AGENT__WORKERS": "1",
                "FLOWLLAMA_AGENT__POLL_S": "0.2", "FLOWLLAMA_LOG_LEVEL": "warning",
                "FLOWLLAMA_AUTOPILOT__INTERVAL_S": "0.5",
                "FLOWLLAMA_AUTOPILOT__MIN_IDLE_TIMEOUT_S": "1",
                "FLOWLLAMA_GATEWAY__ROUTE_CACHE_TTL_S": "1"})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowllama", "up", "--port", str(port),
             "--data-dir", str(data_dir)], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    _until(lambda: _answers(f"{base}/health"), "flowllama up did not start", process)
    return process, base


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _until(condition: Any, message: str, process: subprocess.Popen[bytes] | None = None,
           timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process is not None and process.poll() is not None:
            raise SystemExit(f"flowllama up exited ({process.returncode})")
        if time.monotonic() > deadline:
            raise SystemExit(message)
        time.sleep(0.1)


def _setup(base: str) -> tuple[httpx.Client, str, str]:
    """A logged-in API client, an API key and a running deployment's id."""
    http = httpx.Client(base_url=base, timeout=30)
    http.post("/api/auth/register", json={"email": "bench@example.com", "password": PASSWORD})
    token = http.post("/api/auth/login", json={"email": "bench@example.com",
                                                "password": PASSWORD}).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    key = http.post("/api/keys", json={"name": "bench"}).json()["key"]
    created = http.post("/api/deployments", json={
        "name": "tiny", "model": "local/tiny", "context_size": 512, "cloud": "local"}).json()
    _until(lambda: _status(http, created["id"]) == "running", "the deployment never ran")
    return http, key, created["id"]


def _status(http: httpx.Client, deployment_id: str) -> str:
    return str(http.get(f"/api/deployments/{deployment_id}").json()["status"])


def _set_idle(http: httpx.Client, deployment_id: str, seconds: int | None) -> None:
    answer = http.patch(f"/api/deployments/{deployment_id}", json={"idle_timeout_s": seconds})
    answer.raise_for_status()


def _first_token_s(client: openai.OpenAI) -> float:
    started = time.perf_counter()
    first = None
    for chunk in client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8,
                                                stream=True):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    if first is None:
        raise SystemExit("a stream without content")
    return first


def measure(rounds: int) -> dict[str, list[float]]:
    """``rounds`` pairs of (after sleep, warm) first-token times, in seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-wake-") as tmp:
        root = Path(tmp)
        write_tiny_model(root / "models" / "tiny.gguf")
        data_dir = root / "data"
        process, base = _up(data_dir, root / "models", root / "up.log")
        try:
            http, key, deployment_id = _setup(base)
            client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0,
                                   timeout=TIMEOUT_S)
            _first_token_s(client)  # warm-up: the first request ever is not measured
            results: dict[str, list[float]] = {"after_sleep_s": [], "warm_s": []}
            for _ in range(rounds):
                _set_idle(http, deployment_id, 1)
                _until(lambda: _status(http, deployment_id) == "sleeping"
                       and not find_supervisors(data_dir / "local"), "it never slept")
                _set_idle(http, deployment_id, None)
                results["after_sleep_s"].append(_first_token_s(client))
                results["warm_s"].append(_first_token_s(client))
            return results
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def summary(results: dict[str, list[float]]) -> dict[str, Any]:
    table: dict[str, Any] = {
        name: {"median": statistics.median(values), "min": min(values), "max": max(values)}
        for name, values in results.items()}
    table["wake_cost_s"] = table["after_sleep_s"]["median"] - table["warm_s"]["median"]
    table["rounds"] = len(results["warm_s"])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    table = summary(measure(args.rounds))
    if args.json:
        print(json.dumps(table, indent=2))
        return
    for name in ("after_sleep_s", "warm_s"):
        row = table[name]
        print(f"{name:>14}: median {row['median']:.3f} s  (min {row['min']:.3f}, "
              f"max {row['max']:.3f})")
    print(f"{'wake cost':>14}: {table['wake_cost_s']:.3f} s over {table['rounds']} rounds")


if __name__ == "__main__":
    main()
