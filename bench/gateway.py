"""Benchmark the token gateway's overhead (issue 7): the same chat requests straight to a fast fake
upstream, through ``flowllama serve gateway``, and through LiteLLM's proxy, side by side in one run.

Setup: a fresh SQLite data dir with one user, one API key and one running deployment whose
server is the fake upstream, registered as an external OpenAI-compatible server (``cloud:
external``) and adopted by the agent's reconciler, as an administrator would set it up. The
fake upstream is a minimal HTTP/1.1 server (an ``asyncio.Protocol`` with ``httptools``, on
uvloop when importable, keep-alive) answering a fixed chat completion, or for
``"stream": true`` an SSE stream of 8 content events, a usage event when
``stream_options.include_usage`` is asked (the gateway always asks), then ``data: [DONE]``. The
gateway runs with one worker and ``FLOWLLAMA_LOG_LEVEL=info`` (its production setting: one access
log line per request, sent to /dev/null). LiteLLM's proxy (``--litellm``, one worker) gets a
generated config routing the model to the same upstream as ``openai/bench``.

Load: ``wrk`` (one thread, keep-alive; a generated Lua script POSTs the JSON body and reports
requests/s, p50/p99 and the error counts as JSON from ``done()``) for non-streaming chat at
concurrency 1 and 16; any non-2xx answer or socket error fails the run. Streams: a synchronous
raw-socket client, one keep-alive connection, timing the first ``data: {`` event (time to first
token) and the end of the stream.

Pinning assumes 2 cores: the proxy under test (gateway or LiteLLM) gets CPU 1 to itself; the
fake upstream and the load generator (wrk, the stream client, this script) share CPU 0. All
three servers stay up for the whole run (an idle proxy costs nothing), so paths are interleaved
round by round (round 1: direct, gateway, LiteLLM; round 2: ...) and drifting machine load hits
them alike. Each (case, path) is warmed up once before its first round; each figure reported is
the median over ``--rounds`` rounds of ``--seconds`` each.

Two more paths answer issue 17 in the same run (both optional):

* ``--baseline REF``: a second gateway running the code of git ref ``REF`` (exported with
  ``git archive`` and put first on its ``PYTHONPATH``), e.g. the commit before the ``/v1`` body
  validation, pinned like the gateway: ``gateway@REF``. The derived figures give the CPU per
  request and req/s of this tree relative to it (the validation must cost < 5 % more CPU).
  ``REF`` must have the same database migrations as this tree (both share one database).
* ``--processes``: ``flowllama serve gateway --workers 2`` (``gateway x2``) and a plain
  one-process ``serve gateway`` (``gateway x1``), both allowed on both CPUs, so neither is
  pinned to a busier CPU than the other; x2's CPU time counts the supervisor and both
  processes. The derived figures are x2's req/s over x1's, per case. On a 2-core host both
  compete with the upstream and wrk for CPU 0, so the ratio is a floor, not what a host with
  spare cores would see.

Run: python3 bench/gateway.py [--seconds 5] [--rounds 3] [--json] [--litellm PATH | --no-litellm]
                              [--baseline REF] [--processes]
     python3 bench/gateway.py --in-process-only --baseline REF [--rounds 3]
                              (only the in-process CPU per request of both trees; no wrk)
     python3 bench/gateway.py --in-process-only --validation [--rounds 9]
                              (the same for this tree with the /v1 body validation and with
                              it bypassed by a bare json.loads, alternating)
     python3 bench/gateway.py --serve-upstream PORT   (just the fake upstream)
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
import gc
import http.client
import json
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any, cast

# -- the fake upstream -------------------------------------------------------------------------

CHAT = json.dumps({
    "id": "b1", "object": "chat.completion", "created": 1, "model": "bench",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hello there"}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13}},
    separators=(",", ":")).encode()
EVENT = (b'data: {"id":"b1","object":"chat.completion.chunk","created":1,"model":"bench",'
         b'"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n')
USAGE_EVENT = (b'data: {"id":"b1","object":"chat.completion.chunk","created":1,"model":"bench",'
               b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":8,'
               b'"total_tokens":13}}\n\n')
DONE_EVENT = b"data: [DONE]\n\n"
MODELS = b'{"object":"list","data":[{"id":"bench","object":"model","owned_by":"bench"}]}'
# Clients differ in JSON spacing (``"stream":true`` vs ``"stream": true``).
STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
USAGE_RE = re.compile(rb'"include_usage"\s*:\s*true')


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


# Whole responses are prebuilt: the upstream should cost next to nothing per request.
CHAT_RESPONSE = _response(b"200 OK", b"application/json", CHAT)
MODELS_RESPONSE = _response(b"200 OK", b"application/json", MODELS)
NOT_FOUND = _response(b"404 Not Found", b"application/json", b'{"error":"not found"}')
_SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n")
STREAM_RESPONSE = _SSE_HEAD + _chunk(EVENT) * 8 + _chunk(DONE_EVENT) + b"0\r\n\r\n"
STREAM_USAGE_RESPONSE = (_SSE_HEAD + _chunk(EVENT) * 8 + _chunk(USAGE_EVENT) + _chunk(DONE_EVENT)
                         + b"0\r\n\r\n")


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection to the fake upstream (httptools parses requests)."""

    def __init__(self) -> None:
        import httptools

        self._parser = httptools.HttpRequestParser(self)
        self._error = httptools.HttpParserError
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not subclass asyncio's.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except self._error:
            assert self._transport is not None
            self._transport.write(_response(b"400 Bad Request", b"text/plain", b"bad request"))
            self._transport.close()

    def on_message_begin(self) -> None:
        self._url = b""
        self._body.clear()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        self._transport.write(self._answer(self._parser.get_method(), self._url.split(b"?")[0]))
        if not self._parser.should_keep_alive():
            self._transport.close()

    def _answer(self, method: bytes, path: bytes) -> bytes:
        if method == b"POST" and path.endswith(b"/chat/completions"):
            body = b"".join(self._body)
            if STREAM_RE.search(body) is None:
                return CHAT_RESPONSE
            return STREAM_USAGE_RESPONSE if USAGE_RE.search(body) else STREAM_RESPONSE
        if method == b"GET" and path in (b"/", b"/v1", b"/v1/models", b"/models"):
            return MODELS_RESPONSE
        return NOT_FOUND


def serve_upstream(port: int) -> None:
    """Run the fake upstream on 127.0.0.1:``port`` until killed (uvloop when importable)."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(UpstreamProtocol, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve())


# -- the gateway's own code, in process ---------------------------------------------------------

def asgi_loop(upstream_port: int, data_dir: Path, key: str, requests: int,
              concurrency: int) -> float:
    """CPU µs per chat request of the ``/v1`` application alone (no HTTP server in front),
    ``concurrency`` requests at a time, against the fake upstream: the gateway's own code is
    all this process runs, so the figure holds still on a busy host. Prints it."""
    from flowllama.gateway import build_gateway
    from flowllama.gateway.endpoints import OpenAIEndpoints
    from flowllama.platform import build_platform
    from flowllama.settings import Settings

    body = json.dumps(BODY).encode()
    scope_headers = [(b"authorization", f"Bearer {key}".encode()),
                     (b"content-type", b"application/json"),
                     (b"content-length", str(len(body)).encode())]

    async def one(app: Any) -> None:
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
                 "headers": scope_headers, "state": {}}
        await app(scope, receive, send)
        if statuses != [200]:
            raise RuntimeError(f"in-process chat answered {statuses}")

    async def run() -> float:
        gateway = build_gateway(build_platform(Settings(data_dir=data_dir)))
        await gateway.start()
        app = OpenAIEndpoints(gateway)
        try:
            async def worker(count: int) -> None:
                for _ in range(count):
                    await one(app)

            await asyncio.gather(*(worker(200) for _ in range(concurrency)))  # warm up
            gc.collect()  # as the server does before serving (server._run_http)
            gc.freeze()
            started = time.process_time()
            await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
            return (time.process_time() - started) * 1e6 / (requests // concurrency * concurrency)
        finally:
            await gateway.stop()

    return asyncio.run(run())


NO_VALIDATION = "BENCH_GATEWAY_NO_VALIDATION"  # bench only: --asgi-loop without the check


def _bypass_validation() -> None:
    """Swap the ``/v1`` body check for a bare ``json.loads`` (what the gateway did before
    the allow-list), in this process only: the A/B of ``--validation``."""
    from flowllama.gateway import endpoints
    from flowllama.gateway.requests import ClientRequest

    def unchecked(raw: bytes, _required: str) -> ClientRequest:
        body = json.loads(raw)
        options = body.get("stream_options")
        return ClientRequest(body=body, model=body["model"], stream=bool(body.get("stream")),
                             wants_usage=bool(options and options.get("include_usage")))

    endpoints.parse = unchecked  # type: ignore[assignment]


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
                [sys.executable, __file__, "--asgi-loop", str(upstream_port), str(data_dir),
                 key, str(requests), str(concurrency)], env=env, capture_output=True,
                text=True, check=True, preexec_fn=_pinning(PROXY_CPU))
            runs[name].append(float(result.stdout.split()[-1]))
            print(f"in-process round {number + 1}: {name} {runs[name][-1]:.1f} µs/req",
                  file=sys.stderr, flush=True)
    return {name: statistics.median(values) for name, values in runs.items()}


def in_process_only(baseline: str | None, rounds: int) -> dict[str, float]:
    """:func:`in_process` for this tree and ``baseline`` (None: this tree with the body
    validation bypassed) with just the fake upstream running (no HTTP servers, no wrk): the
    gateway's own CPU per request, with and without."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        port = _free_port()
        stack.enter_context(_process(
            [sys.executable, __file__, "--serve-upstream", str(port)], UPSTREAM_CPU,
            f"http://127.0.0.1:{port}/"))
        key = _seed(Path(tmp), f"http://127.0.0.1:{port}/v1")
        other = ({f"gateway@{baseline}": {"PYTHONPATH": str(_export(baseline, Path(tmp)))}}
                 if baseline else {"gateway, no validation": {NO_VALIDATION: "1"}})
        return in_process(port, Path(tmp), key, {"gateway": {}, **other}, rounds)


def _print_in_process_only(baseline: str | None, rounds: int, validation: bool) -> None:
    if not baseline and not validation:
        sys.exit("--in-process-only needs --baseline REF or --validation")
    inproc = in_process_only(baseline, max(rounds, 3))
    print(json.dumps({"in_process_cpu_us": inproc, "derived": _in_process_figure(inproc)},
                     indent=2))


# -- processes ---------------------------------------------------------------------------------

UPSTREAM_CPU, PROXY_CPU = 0, 1
BODY = {"model": "bot", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pinning(cpu: int | set[int]) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning the child to ``cpu`` (one or a set) before exec, so that every
    thread and process it starts inherits the pin; None where the machine lacks that CPU."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return None
    cpus = cpu if isinstance(cpu, set) else {cpu}
    return lambda: os.sched_setaffinity(0, cpus)


def _get_status(url: str) -> int:
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        connection.request("GET", "/" + path)
        return connection.getresponse().status
    finally:
        connection.close()


def _wait(url: str, process: subprocess.Popen[bytes], log: IO[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited ({process.returncode}):\n{_tail(log)}")
        try:
            if _get_status(url) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s:\n{_tail(log)}")


def _tail(log: IO[bytes], chars: int = 3000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-chars:]


@contextmanager
def _process(args: list[str], cpu: int | set[int], ready_url: str,
             env: dict[str, str] | None = None,
             timeout: float = 60) -> Iterator[int]:
    """Run ``args`` pinned to ``cpu`` (stdout to /dev/null, stderr kept for errors) until the
    ``with`` ends; wait until ``ready_url`` answers 200 first. Yields the process id."""
    with tempfile.TemporaryFile() as log:
        # Pinned before exec, so no thread of the child escapes; this script starts no threads,
        # so preexec_fn is safe here.
        process = subprocess.Popen(args, env={**os.environ, **(env or {})},
                                   stdout=subprocess.DEVNULL, stderr=log,
                                   preexec_fn=_pinning(cpu))  # noqa: PLW1509
        try:
            _wait(ready_url, process, log, timeout)
            yield process.pid
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _seed(data_dir: Path, upstream_v1: str) -> str:
    """Migrate the data dir's SQLite database; add a user and a key, and register the fake
    upstream as that user's external OpenAI-compatible server (``cloud: external``, through the
    service behind ``POST /api/admin/external-deployments`` and ``flowllama external
    register``); the agent's reconciler then adopts it, as ``flowllama up``'s agent would."""
    from flowllama.agent.reconciler import Reconciler
    from flowllama.db import migrate
    from flowllama.db.tables import Deployment, User
    from flowllama.domain.external import ExternalDeploymentRegister
    from flowllama.domain.keys import ApiKeyCreate
    from flowllama.platform import build_platform
    from flowllama.providers.external import ExternalProvisioner
    from flowllama.providers.registry import ProvisionerRegistry
    from flowllama.services import api_keys, external_servers
    from flowllama.services.external_servers import ExternalDirectory
    from flowllama.settings import Settings

    # The gateway's settings (``_gateway``): the same data dir, so the same platform secret.
    settings = Settings(env="development", data_dir=data_dir)
    migrate.upgrade(settings.effective_database_url)
    platform = build_platform(settings)
    try:
        with platform.db.session() as session:
            user = User(email="bench@example.com", password_hash="x")
            session.add(user)
            session.flush()
            _row, key = api_keys.create(session, user, ApiKeyCreate(name="bench"))
            registered = external_servers.register(
                session, platform.upstream_secrets, ExternalDeploymentRegister(
                    name="bot", owner_email=user.email, base_url=upstream_v1, api="openai",
                    model="bench", context_size=512))
        registry = ProvisionerRegistry()
        registry.register("external", lambda: ExternalProvisioner(
            ExternalDirectory(platform.db, platform.upstream_secrets)))
        Reconciler(platform.db, registry).reconcile(registered.deployment.id)
        with platform.db.session() as session:
            deployment = session.get(Deployment, registered.deployment.id)
            assert deployment is not None
            if deployment.status != "running":
                raise SystemExit(f"the fake upstream was not adopted: {deployment.status} "
                                 f"({deployment.status_message})")
    finally:
        platform.close()
    return key


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


# -- load generation ---------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and every process below it, so far (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue  # exited meanwhile
    return total


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


def _wrk_script(target: Target, body: dict[str, Any], directory: Path) -> Path:
    """A wrk Lua script POSTing ``body`` as JSON with the target's headers."""
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{json.dumps(body)}]==]",
             'wrk.headers["Content-Type"] = "application/json"',
             *(f'wrk.headers["{name}"] = [==[{value}]==]'
               for name, value in target.headers.items())]
    script = directory / f"wrk-{target.name}.lua"
    script.write_text("\n".join(lines) + "\n" + WRK_DONE)
    return script


def _wrk(target: Target, script: Path, concurrency: int, seconds: int) -> dict[str, float]:
    """Requests/s and p50/p99 latency of wrk against ``target``; raises on any error."""
    result = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "10s",
         "-s", str(script), target.url],
        capture_output=True, text=True, preexec_fn=_pinning(UPSTREAM_CPU), check=False)
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


# -- measurement -------------------------------------------------------------------------------

CASES = [("chat c=1", 1, False), ("chat c=16", 16, False), ("stream c=1", 1, True)]
Results = dict[str, dict[str, list[dict[str, float]]]]  # case -> path -> one result per round


def _run_case(target: Target, script: Path, concurrency: int, stream: bool, seconds: int
              ) -> dict[str, float]:
    """One measurement, with the server's CPU time per request (steadier than latency on a
    shared machine: it does not count time spent waiting to be scheduled)."""
    before = cpu_seconds(target.pid)
    result = StreamClient(target).run(seconds) if stream else \
        _wrk(target, script, concurrency, seconds)
    requests = result["rps"] * seconds
    result["cpu_us"] = (cpu_seconds(target.pid) - before) * 1e6 / requests if requests else 0.0
    return result


def _warm_up(targets: list[Target], scripts: dict[str, Path]) -> None:
    """Exercise each path briefly in every case (connection pools, caches, lazy imports)."""
    for target in targets:
        for _case, concurrency, stream in CASES:
            if stream:
                StreamClient(target).run(0.5)
            else:  # wrk counts whole seconds only
                _wrk(target, scripts[target.name], concurrency, 1)


def measure(targets: list[Target], seconds: int, rounds: int, tmp: Path,
            progress: Callable[[str], None]) -> Results:
    """Every case on every path, ``rounds`` times; paths interleaved within each round, in
    reverse order every other round (so no path always runs right after another)."""
    scripts = {t.name: _wrk_script(t, BODY, tmp) for t in targets}
    _warm_up(targets, scripts)
    results: Results = {case: {t.name: [] for t in targets} for case, _c, _s in CASES}
    for number in range(1, rounds + 1):
        for case, concurrency, stream in CASES:
            for target in targets if number % 2 else targets[::-1]:
                progress(f"round {number}/{rounds}: {case}, {target.name}")
                results[case][target.name].append(
                    _run_case(target, scripts[target.name], concurrency, stream, seconds))
    return results


def medians(results: Results) -> dict[str, dict[str, dict[str, float]]]:
    """Each figure's median over the rounds."""
    return {case: {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                   for name, runs in paths.items()}
            for case, paths in results.items()}


def validation_cpu_us(repeats: int = 50_000) -> float:
    """CPU µs the ``/v1`` body check adds to one bench request over decoding the JSON alone
    (what the gateway did before), measured in this process: steadier than comparing two
    servers on a busy host. Negative when checking is cheaper than ``json.loads``."""
    from flowllama.gateway.requests import parse

    raw = json.dumps(BODY).encode()
    costs = []
    for work in (lambda: parse(raw, "messages"), lambda: json.loads(raw)) * 3:
        started = time.process_time()
        for _ in range(repeats):
            work()
        costs.append((time.process_time() - started) / repeats * 1e6)
    return statistics.median(costs[0::2]) - statistics.median(costs[1::2])


def _issue_17_figures(table: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    """This tree's gateway against ``gateway@REF`` (CPU per request and req/s, each case),
    the validation's own CPU per request against the gateway's, and two gateway processes
    against one (req/s at c=16)."""
    validation = validation_cpu_us()
    share = validation / table["chat c=16"]["gateway"]["cpu_us"]
    rows: list[dict[str, Any]] = [
        {"figure": "validation CPU µs/req (in-process)", "path": "gateway",
         "value": validation, "unit": "µs", "target": None, "met": None},
        {"figure": "validation / gateway CPU per request, chat c=16", "path": "gateway",
         "value": 1 + share, "unit": "x", "target": "< 1.05x", "met": share < 0.05}]
    baseline = next((name for name in table["chat c=1"] if name.startswith("gateway@")), None)
    for case, paths in table.items():
        if baseline is None:
            break
        cpu = paths["gateway"]["cpu_us"] / paths[baseline]["cpu_us"]
        rows.append({"figure": f"CPU/req gateway / {baseline}, {case}", "path": "gateway",
                     "value": cpu, "unit": "x", "target": "< 1.05x", "met": cpu < 1.05})
        rps = paths["gateway"]["rps"] / paths[baseline]["rps"]
        rows.append({"figure": f"req/s gateway / {baseline}, {case}", "path": "gateway",
                     "value": rps, "unit": "x", "target": None, "met": None})
    for case, paths in table.items():
        if "gateway x2" in paths:
            rows.append({"figure": f"req/s gateway x2 / gateway x1, {case}", "path": "gateway x2",
                         "value": paths["gateway x2"]["rps"] / paths["gateway x1"]["rps"],
                         "unit": "x", "target": None, "met": None})
    return rows


def _in_process_figure(inproc: dict[str, float]) -> list[dict[str, Any]]:
    if not inproc:
        return []
    [(_name, now), (base, before)] = inproc.items()
    return [{"figure": f"in-process /v1 CPU µs/req, gateway / {base} (c=16)",
             "path": "gateway", "value": now / before, "unit": "x",
             "target": "< 1.05x", "met": now / before < 1.05}]


def derived(table: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    """Issue 7's figures (added p50 and TTFT over direct at c=1, gateway/LiteLLM at c=16) and
    issue 17's (:func:`_issue_17_figures`)."""
    rows: list[dict[str, Any]] = _issue_17_figures(table)
    for path in ("gateway", "litellm"):
        if path not in table["chat c=1"]:
            continue
        gateway = path == "gateway"
        added = table["chat c=1"][path]["p50_ms"] - table["chat c=1"]["direct"]["p50_ms"]
        rows.append({"figure": "added p50, chat c=1", "path": path, "value": added, "unit": "ms",
                     "target": "< 1 ms" if gateway else None,
                     "met": added < 1 if gateway else None})
        stream = table["stream c=1"]
        added = stream[path]["ttft_ms"] - stream["direct"]["ttft_ms"]
        rows.append({"figure": "added TTFT, stream c=1", "path": path, "value": added,
                     "unit": "ms", "target": "< 1 ms" if gateway else None,
                     "met": added < 1 if gateway else None})
    if "litellm" in table["chat c=16"]:
        c16 = table["chat c=16"]
        ratio = c16["gateway"]["rps"] / c16["litellm"]["rps"]
        rows.append({"figure": "req/s gateway / litellm, chat c=16", "path": "gateway",
                     "value": ratio, "unit": "x", "target": ">= 10x", "met": ratio >= 10})
    return rows


def _print(table: dict[str, dict[str, dict[str, float]]], figures: list[dict[str, Any]],
           rounds: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    main = Table("case", "path", "req/s", "p50 ms", "p99 ms", "TTFT ms", "server CPU µs/req",
                 title=f"median of {rounds} round(s)")
    for case, paths in table.items():
        for name, r in paths.items():
            ttft = f"{r['ttft_ms']:.2f}" if "ttft_ms" in r else ""
            main.add_row(case, name, f"{r['rps']:,.0f}", f"{r['p50_ms']:.2f}",
                         f"{r['p99_ms']:.2f}", ttft, f"{r['cpu_us']:,.0f}")
    console.print(main)
    extra = Table("figure", "path", "value", "target", "met")
    for row in figures:
        value = f"{row['value']:.2f} {row['unit']}" if row["unit"] != "x" else \
            f"{row['value']:.3f}x"
        met = "" if row["met"] is None else ("met" if row["met"] else "NOT met")
        extra.add_row(row["figure"], row["path"], value, row["target"] or "", met)
    console.print(extra)


# -- main --------------------------------------------------------------------------------------

def _default_litellm() -> str | None:
    found = shutil.which("litellm")
    if found:
        return found
    venv = Path("/tmp/litellm-venv/bin/litellm")
    return str(venv) if venv.exists() else None


def _check(target: Target) -> None:
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


def _gateway(stack: ExitStack, tmp: Path, cpu: int | set[int], *extra: str,
             pythonpath: Path | None = None) -> tuple[int, int]:
    """Start ``flowllama serve gateway`` (with ``extra`` arguments, this tree's code unless
    ``pythonpath`` names another ``src``) over ``tmp``'s database: (port, pid)."""
    port = _free_port()
    env = {"FLOWLLAMA_LOG_LEVEL": "info", "FLOWLLAMA_ENV": "development"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    pid = stack.enter_context(_process(
        [sys.executable, "-m", "flowllama", "serve", "gateway", "--port", str(port),
         "--data-dir", str(tmp), *extra], cpu, f"http://127.0.0.1:{port}/v1/health", env))
    return port, pid


def _export(ref: str, tmp: Path) -> Path:
    """The ``src`` directory of git ref ``ref`` of this repository, exported under ``tmp``."""
    root = Path(__file__).resolve().parent.parent
    target = tmp / "baseline"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "src"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def start_servers(stack: ExitStack, tmp: Path, litellm: str | None, *,
                  baseline: str | None = None, processes: bool = False) -> list[Target]:
    """Start the upstream (CPU 0), the gateway, ``gateway@baseline`` and LiteLLM (CPU 1), and
    one and two gateway processes (both on both CPUs), for the whole run."""
    up_port = _free_port()
    upstream_v1 = f"http://127.0.0.1:{up_port}/v1"
    up_pid = stack.enter_context(_process(
        [sys.executable, __file__, "--serve-upstream", str(up_port)], UPSTREAM_CPU,
        f"http://127.0.0.1:{up_port}/"))
    key = _seed(tmp, upstream_v1)
    auth = {"Authorization": f"Bearer {key}"}
    gw_port, gw_pid = _gateway(stack, tmp, PROXY_CPU)
    targets = [Target("direct", up_port, "/v1/chat/completions", {}, up_pid),
               Target("gateway", gw_port, "/v1/chat/completions", auth, gw_pid)]
    if baseline:
        port, pid = _gateway(stack, tmp, PROXY_CPU, pythonpath=_export(baseline, tmp))
        targets.append(Target(f"gateway@{baseline}", port, "/v1/chat/completions", auth, pid))
    if processes:  # one process and two, on the same CPUs: neither on a busier one
        port, pid = _gateway(stack, tmp, {UPSTREAM_CPU, PROXY_CPU})
        targets.append(Target("gateway x1", port, "/v1/chat/completions", auth, pid))
        port, pid = _gateway(stack, tmp, {UPSTREAM_CPU, PROXY_CPU}, "--workers", "2")
        targets.append(Target("gateway x2", port, "/v1/chat/completions", auth, pid))
    if litellm:
        ll_port, master_key = _free_port(), f"sk-{secrets.token_hex(32)}"
        config = _litellm_config(tmp, upstream_v1, master_key)
        ll_pid = stack.enter_context(_process(
            [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", str(ll_port),
             "--num_workers", "1"], PROXY_CPU, f"http://127.0.0.1:{ll_port}/health/liveliness",
            {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
             "LITELLM_TELEMETRY": "False"}, timeout=180))
        targets.append(Target("litellm", ll_port, "/v1/chat/completions",
                              {"Authorization": f"Bearer {master_key}"}, ll_pid))
    return targets


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per round and case (whole s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print every round as JSON")
    parser.add_argument("--litellm", default=_default_litellm(),
                        help="the litellm executable (default: litellm on PATH, else "
                             "/tmp/litellm-venv/bin/litellm if present)")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM path")
    parser.add_argument("--baseline", metavar="REF",
                        help="also run the gateway of git ref REF (same migrations)")
    parser.add_argument("--processes", action="store_true",
                        help="also run serve gateway --workers 2")
    parser.add_argument("--in-process", action="store_true",
                        help="with --baseline: also the /v1 app's CPU per request in process")
    parser.add_argument("--in-process-only", action="store_true",
                        help="with --baseline: only the in-process CPU per request (no wrk)")
    parser.add_argument("--validation", action="store_true",
                        help="with --in-process-only: this tree with the /v1 body validation "
                             "against the same tree with it bypassed (json.loads only)")
    parser.add_argument("--serve-upstream", type=int, metavar="PORT",
                        help="only run the fake upstream on PORT")
    parser.add_argument("--asgi-loop", nargs=5,
                        metavar=("PORT", "DATA_DIR", "KEY", "REQUESTS", "CONCURRENCY"),
                        help=argparse.SUPPRESS)  # one in_process() run, in a child process
    return parser.parse_args()


def _asgi_loop_child(arguments: list[str]) -> None:
    """One :func:`asgi_loop` run (a child of :func:`in_process`); prints its figure."""
    port, data_dir, key, requests, concurrency = arguments
    if os.environ.get(NO_VALIDATION) == "1":
        _bypass_validation()
    print(asgi_loop(int(port), Path(data_dir), key, int(requests), int(concurrency)))


def main() -> None:
    args = _arguments()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    if args.asgi_loop:
        _asgi_loop_child(args.asgi_loop)
        return
    if args.in_process_only:
        _print_in_process_only(None if args.validation else args.baseline, args.rounds,
                               args.validation)
        return
    if shutil.which("wrk") is None:
        sys.exit("bench/gateway.py needs wrk on PATH (apt-get install -y wrk)")
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 CPUs, nothing is pinned", file=sys.stderr)
    elif hasattr(os, "sched_setaffinity"):  # this script is part of the load generator
        os.sched_setaffinity(0, {UPSTREAM_CPU})
    litellm = None if args.no_litellm else args.litellm
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        targets = start_servers(stack, Path(tmp), litellm, baseline=args.baseline,
                                processes=args.processes)
        for target in targets:
            _check(target)
        inproc = {}
        if args.in_process and args.baseline:
            print("in-process /v1 runs", file=sys.stderr, flush=True)
            key = targets[1].headers["Authorization"].removeprefix("Bearer ")
            inproc = in_process(targets[0].port, Path(tmp), key, {
                "gateway": {}, f"gateway@{args.baseline}": {
                    "PYTHONPATH": str(Path(tmp) / "baseline" / "src")}}, max(args.rounds, 3))
        results = measure(targets, args.seconds, args.rounds, Path(tmp),
                          lambda line: print(line, file=sys.stderr, flush=True))
    table = medians(results)
    figures = derived(table)
    figures.extend(_in_process_figure(inproc))
    if args.json:
        print(json.dumps({"seconds": args.seconds, "rounds": results, "median": table,
                          "derived": figures, "in_process_cpu_us": inproc,
                          "litellm": litellm}, indent=2))
    else:
        _print(table, figures, args.rounds)
        print("in-process /v1 CPU µs/req (median):",
              ", ".join(f"{name} {value:.0f}" for name, value in inproc.items()) or "-")


if __name__ == "__main__":
    main()
