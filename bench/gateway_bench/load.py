"""Load generation: ``wrk`` (one thread, keep-alive; a generated Lua script POSTs the JSON body
and reports requests/s, p50/p99 and the error counts as JSON from ``done()``) for non-streaming
chat, and a synchronous raw-socket client for streams, timing the first ``data: {`` event (time
to first token) and the end of each stream."""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from .harness import BODY, UPSTREAM_CPU, pinning


class Target:
    """One path under test: where its chat completions endpoint is, which headers it needs,
    and the server process whose CPU time is measured (the upstream's for ``direct``)."""

    def __init__(self, name: str, port: int, path: str, headers: dict[str, str],
                 pid: int) -> None:
        self.name, self.port, self.path, self.headers = name, port, path, headers
        self.pid = pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def request(self, body: dict[str, Any]) -> bytes:
        """The raw HTTP/1.1 request POSTing ``body`` (keep-alive)."""
        payload = json.dumps(body).encode()
        head = [f"POST {self.path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                "Content-Type: application/json", f"Content-Length: {len(payload)}",
                *(f"{name}: {value}" for name, value in self.headers.items())]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def check(target: Target) -> None:
    """One chat completion through ``target``: it must be a 200 with the upstream's answer."""
    connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
    try:
        connection.request("POST", target.path, json.dumps(BODY),
                           {"Content-Type": "application/json", **target.headers})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200 or b"hello there" not in body:
        raise RuntimeError(f"{target.name}: chat answered {response.status}: {body[:500]!r} "
                           "(the proxies' stdout, with their error logs, goes to /dev/null: "
                           "start one by hand to see why)")


# wrk's ``done()`` runs once at the end, in the main Lua state: it reports as one JSON line.
# ``errors.status`` counts answers with a status above 399 (wrk's "Non-2xx or 3xx" line).
WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_script(target: Target, body: dict[str, Any], directory: Path) -> Path:
    """A wrk Lua script POSTing ``body`` as JSON with the target's headers."""
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{json.dumps(body)}]==]",
             'wrk.headers["Content-Type"] = "application/json"',
             *(f'wrk.headers["{name}"] = [==[{value}]==]'
               for name, value in target.headers.items())]
    script = directory / f"wrk-{target.name}.lua"
    script.write_text("\n".join(lines) + "\n" + WRK_DONE)
    return script


def wrk(target: Target, script: Path, concurrency: int, seconds: int) -> dict[str, float]:
    """Requests/s and p50/p99 latency of wrk against ``target``; raises on any error."""
    result = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "10s",
         "-s", str(script), target.url],
        capture_output=True, text=True, preexec_fn=pinning(UPSTREAM_CPU), check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed on {target.name}:\n{result.stdout}\n{result.stderr}")
    stats = json.loads(lines[-1].removeprefix("BENCH "))
    errors = {k: stats[k] for k in ("connect", "read", "write", "status", "timeout") if stats[k]}
    if errors or not stats["requests"]:
        raise RuntimeError(f"{target.name}, c={concurrency}: {stats['requests']} requests, "
                           f"errors {errors} (status = non-2xx/3xx answers)\n{result.stdout}")
    return {"rps": stats["requests"] / (stats["duration_us"] / 1e6),
            "p50_ms": stats["p50_us"] / 1000, "p99_ms": stats["p99_us"] / 1000}


class _StreamAnswer:
    """httptools callbacks for one streamed answer: when the first ``data: {`` event arrived,
    the body, and whether the answer is complete."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.body = bytearray()
        self.complete = False

    def on_body(self, data: bytes) -> None:
        # Search only where the marker can newly appear: the new bytes and the 6 before them.
        start = max(0, len(self.body) - 6)
        self.body += data
        if self.first is None and self.body.find(b"data: {", start) >= 0:
            self.first = time.perf_counter()

    def on_message_complete(self) -> None:
        self.complete = True


class StreamClient:
    """A synchronous raw-socket client: one keep-alive connection, one streamed request at a
    time, timing the first content event and the end of each stream."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.request = target.request({**BODY, "stream": True})
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.target.port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def one(self) -> tuple[float, float]:
        """Seconds to the first ``data: {`` event and to the end of one streamed answer."""
        import httptools

        sock = self._connect()
        answer = _StreamAnswer()
        parser = httptools.HttpResponseParser(answer)
        started = time.perf_counter()
        sock.sendall(self.request)
        while not answer.complete:
            data = sock.recv(65536)
            if not data:
                raise RuntimeError(f"{self.target.name}: connection closed mid-answer")
            parser.feed_data(data)
        ended = time.perf_counter()
        status = parser.get_status_code()
        if status != 200 or answer.first is None or b"[DONE]" not in answer.body:
            raise RuntimeError(f"{self.target.name}: stream answered {status}: "
                               f"{bytes(answer.body[:500])!r}")
        if not parser.should_keep_alive():
            self.close()
        return answer.first - started, ended - started

    def run(self, seconds: float) -> dict[str, float]:
        """Streams back to back for ``seconds``: requests/s, p50/p99 duration, median TTFT."""
        firsts: list[float] = []
        totals: list[float] = []
        started = time.perf_counter()
        try:
            while time.perf_counter() - started < seconds:
                first, total = self.one()
                firsts.append(first)
                totals.append(total)
        finally:
            self.close()
        elapsed = time.perf_counter() - started
        totals.sort()
        return {"rps": len(totals) / elapsed, "p50_ms": 1000 * statistics.median(totals),
                "p99_ms": 1000 * totals[min(len(totals) - 1, int(len(totals) * 0.99))],
                "ttft_ms": 1000 * statistics.median(firsts)}
