"""Benchmark the health monitor: one monitor checking N simulated instances on loopback.

What runs, in one process pair on one machine:
  responder  a separate process (pinned to core 1 where there are two) with one asyncio loop
             listening on N loopback ports; it answers ``GET /v1/models`` with a small JSON 200
             and ``POST /v1/chat/completions`` with a one-token completion, keep-alive. Where N
             ports cannot be opened (file descriptors), it opens as many as it can and several
             instances share a port; the table says how many ports there were.
  monitor    this process (pinned to core 0): a temporary, migrated SQLite database holding N
             running deployments (cloud ``local``, model ``local/tiny``) with one healthy
             instance each at ``http://127.0.0.1:<port>/v1``, and the real
             ``Monitor.run_round()`` with ``interval_s`` tiny, so every instance is due each
             round.

Scenarios per size N, each the median of ``--rounds`` rounds:
  first     a fresh ``Monitor`` per round: every instance is new to it, so each gets the health
            check and the deep probe (a one-token completion)
  steady    later rounds of one monitor with ``deep_interval_s`` of an hour: health checks only
  baseline  a naive monitor: a sequential loop with one ``httpx.Client`` doing the same health
            GETs and, per instance, the same row update in a transaction of its own; at most
            ``--baseline-max`` instances (per-instance cost, projected to N)

Reported per row: wall seconds per round, instances/s, CPU seconds of the monitor process per
round (``time.process_time``: all its threads, none of the responder's), the responder's CPU per
round (when its core is saturated the figure measures the responder, not the monitor), the
round split into claim / probe / write, and the projected capacity of one 30 s interval
(instances/s x 30).

Run: python3 bench/monitor.py [--sizes 1000,2500,5000] [--rounds 3] [--json]
"""

from __future__ import annotations

import os
import sys

# ``python3 bench/monitor.py`` puts bench/ first on sys.path, where bench/queue.py would shadow
# the standard library's ``queue`` (which multiprocessing and SQLAlchemy import).
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(
    os.path.abspath(__file__)
):
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, update

from flowllama.db import migrate
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, User
from flowllama.db.types import new_id, utcnow
from flowllama.monitor import service
from flowllama.monitor.service import Monitor, MonitorOptions
from flowllama.queue import DatabaseQueue

INTERVAL_S = 30.0  # the monitor's default interval: the target is 5,000 instances in one
TARGET = 5_000
MONITOR_CORE, RESPONDER_CORE = 0, 1
TINY_INTERVAL_S = 1e-6  # every instance is due every round
DEEP_OFF_S = 3600.0  # no deep probe after the first round
RESERVED_FDS = 256  # left to the responder for accepted connections per port opened
STARTUP_TIMEOUT_S = 60.0
TABLE_WIDTH = 180
MODELS_BODY = json.dumps({"object": "list", "data": [
    {"id": "local/tiny", "object": "model", "owned_by": "bench"}]}).encode()
COMPLETION_BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "model": "local/tiny",
    "choices": [{"index": 0, "finish_reason": "length",
                 "message": {"role": "assistant", "content": "p"}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()


# --------------------------------------------------------------------------------------------
# The responder process


def raise_fd_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin(core: int) -> bool:
    """Pin this process to ``core`` when the machine has it; whether it did."""
    if (os.cpu_count() or 1) <= core:
        return False
    try:
        os.sched_setaffinity(0, {core})
    except (AttributeError, OSError):
        return False
    return True


def _response(status: str, body: bytes) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n")
    return head.encode() + body


MODELS_RESPONSE = _response("200 OK", MODELS_BODY)
COMPLETION_RESPONSE = _response("200 OK", COMPLETION_BODY)
NOT_FOUND_RESPONSE = _response("404 Not Found", b'{"error":"not found"}')


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip() or 0)
    return 0


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer HTTP/1.1 requests on one connection until the client closes it."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path, _ = head[:head.index(b"\r\n")].split(b" ", 2)
            length = _content_length(head)
            if length:
                await reader.readexactly(length)
            if method == b"GET" and path == b"/v1/models":
                writer.write(MODELS_RESPONSE)
            elif method == b"POST" and path == b"/v1/chat/completions":
                writer.write(COMPLETION_RESPONSE)
            else:
                writer.write(NOT_FOUND_RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _listen(wanted: int, conn: Connection) -> None:
    """Open up to ``wanted`` listening ports, report them, serve until told to stop."""
    limit = raise_fd_limit()
    budget = max(1, limit - RESERVED_FDS)
    servers: list[asyncio.Server] = []
    ports: list[int] = []
    error = ""
    for _ in range(min(wanted, budget)):
        try:
            server = await asyncio.start_server(_serve, "127.0.0.1", 0, backlog=1024)
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
        servers.append(server)
        ports.append(server.sockets[0].getsockname()[1])
    if len(ports) < wanted and not error:
        error = f"RLIMIT_NOFILE {limit} leaves room for {budget} listening ports"
    conn.send({"ports": ports, "fd_limit": limit, "error": error})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_command() -> None:
        try:
            command = conn.recv()
        except EOFError:
            stop.set()
            return
        if command == "cpu":
            conn.send(time.process_time())
        else:
            stop.set()

    loop.add_reader(conn.fileno(), on_command)
    await stop.wait()
    loop.remove_reader(conn.fileno())
    for server in servers:
        server.close()


def responder_main(wanted: int, conn: Connection) -> None:
    """Entry point of the responder process."""
    pin(RESPONDER_CORE)
    asyncio.run(_listen(wanted, conn))


@dataclass
class Responder:
    """The running responder process and the ports it listens on."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    ports: list[int]
    fd_limit: int
    error: str

    def cpu_s(self) -> float:
        """The responder's CPU seconds so far."""
        self.conn.send("cpu")
        value: float = self.conn.recv()
        return value


@contextmanager
def responder(wanted: int) -> Iterator[Responder]:
    """Start the responder for ``wanted`` ports; always stopped on the way out."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=responder_main, args=(wanted, child), daemon=True)
    process.start()
    try:
        if not parent.poll(STARTUP_TIMEOUT_S):
            raise RuntimeError("the responder did not start in time")
        hello: dict[str, Any] = parent.recv()
        if not hello["ports"]:
            raise RuntimeError(f"the responder opened no port: {hello['error']}")
        yield Responder(process, parent, hello["ports"], hello["fd_limit"], hello["error"])
    finally:
        with contextlib.suppress(OSError, ValueError):
            parent.send("stop")
        process.join(5)
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join()


# --------------------------------------------------------------------------------------------
# The database


def seed(db: Database, ports: list[int], count: int) -> list[str]:
    """``count`` running deployments with one healthy instance each, round-robin over
    ``ports``; the instance ids."""
    now = utcnow()
    user_id = new_id()
    deployments: list[dict[str, Any]] = []
    instances: list[dict[str, Any]] = []
    for index in range(count):
        deployment_id, instance_id = new_id(), new_id()
        deployments.append({
            "id": deployment_id, "user_id": user_id, "name": f"bench-{index}",
            "model": "local/tiny", "runtime": "auto", "context_size": 512, "cloud": "local",
            "gpu": "none", "status": "running", "desired_state": "running",
            "created_at": now, "updated_at": now})
        instances.append({
            "id": instance_id, "deployment_id": deployment_id, "provider": "local",
            "handle": {}, "cloud": "local",
            "endpoint_url": f"http://127.0.0.1:{ports[index % len(ports)]}/v1",
            "status": "healthy", "consecutive_failures": 0, "created_at": now})
    with db.session() as session:
        session.execute(insert(User), [{"id": user_id, "email": "bench@example.com",
                                        "password_hash": "x"}])
        session.execute(insert(Deployment), deployments)
        session.execute(insert(Instance), instances)
    return [str(row["id"]) for row in instances]


def healthy_and_checked(db: Database) -> int:
    """How many instances are healthy with a recorded check and latency."""
    with db.session() as session:
        return int(session.scalar(
            select(func.count()).select_from(Instance).where(
                Instance.status == "healthy", Instance.last_check_at.is_not(None),
                Instance.last_latency_ms.is_not(None))) or 0)


# --------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Sample:
    """One measured round."""

    instances: int
    wall_s: float
    cpu_s: float
    responder_cpu_s: float
    unhealthy: int = 0
    phases_s: dict[str, float] = field(default_factory=dict)


@dataclass
class Row:
    """The medians of one scenario at one size."""

    size: int
    ports: int
    scenario: str
    measured: int
    rounds: int
    wall_s: float
    instances_per_s: float
    cpu_s: float
    cpu_ms_per_instance: float
    responder_cpu_s: float
    projected_wall_s: float  # one round of ``size`` instances
    capacity_per_interval: int
    phases_s: dict[str, float]
    unhealthy: int
    walls_s: list[float]
    note: str = ""


class Phases:
    """Wall time spent in the monitor's claim, probe and write steps during one round."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        """``call``, adding its wall time to ``name``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - started

        return timed

    def reset(self) -> None:
        self.spent = {}


PHASES = Phases()


def instrument(monitor: Monitor) -> None:
    """Time the steps of ``monitor``'s rounds into :data:`PHASES` (wrappers only: the work is
    the monitor's own)."""
    verdicts: Any = monitor.verdicts
    for name in ("apply", "apply_all"):
        if hasattr(verdicts, name):
            setattr(verdicts, name, PHASES.wrap("write", getattr(verdicts, name)))


def timed_round(monitor: Monitor, resp: Responder) -> Sample:
    """Run one ``run_round`` and measure it."""
    PHASES.reset()
    responder_before = resp.cpu_s()
    cpu_before = time.process_time()
    started = time.perf_counter()
    report = monitor.run_round()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    responder_cpu = resp.cpu_s() - responder_before
    claim = PHASES.spent.get("claim", 0.0)
    write = PHASES.spent.get("write", 0.0)
    phases = {"claim": claim, "probe": max(0.0, wall - claim - write), "write": write}
    return Sample(report.checked, wall, cpu, responder_cpu, report.unhealthy, phases)


def naive_round(db: Database, instance_ids: list[str], resp: Responder,
                timeout_s: float) -> Sample:
    """The baseline: one instance after another, one ``httpx.Client``, one transaction each."""
    responder_before = resp.cpu_s()
    cpu_before = time.process_time()
    started = time.perf_counter()
    unhealthy = 0
    phases = {"claim": 0.0, "probe": 0.0, "write": 0.0}
    with httpx.Client(trust_env=False) as client:
        for instance_id in instance_ids:
            step = time.perf_counter()
            with db.session() as session:
                row = session.execute(
                    select(Instance.endpoint_url).where(Instance.id == instance_id)
                ).scalar_one()
            probe_at = time.perf_counter()
            try:
                response = client.get((row or "").rstrip("/").removesuffix("/v1") + "/v1/models",
                                      timeout=timeout_s)
                error = None if response.is_success else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            latency_ms = round((time.perf_counter() - probe_at) * 1000, 3)
            write_at = time.perf_counter()
            with db.session() as session:
                values: dict[str, Any] = {
                    "status": "unhealthy" if error else "healthy", "last_check_at": utcnow(),
                    "last_latency_ms": latency_ms, "last_error": error}
                if error:
                    values["consecutive_failures"] = Instance.consecutive_failures + 1
                else:
                    values["consecutive_failures"] = 0
                session.execute(update(Instance).where(Instance.id == instance_id)
                                .values(**values))
            unhealthy += error is not None
            done = time.perf_counter()
            phases["claim"] += probe_at - step
            phases["probe"] += write_at - probe_at
            phases["write"] += done - write_at
    wall = time.perf_counter() - started
    return Sample(len(instance_ids), wall, time.process_time() - cpu_before,
                  resp.cpu_s() - responder_before, unhealthy, phases)


def summarise(size: int, ports: int, scenario: str, samples: list[Sample],
              note: str = "") -> Row:
    """The median row of ``samples`` (per-instance figures projected to ``size``)."""
    measured = samples[0].instances or 1
    wall = statistics.median(s.wall_s for s in samples)
    cpu = statistics.median(s.cpu_s for s in samples)
    per_instance = wall / measured
    rate = measured / wall if wall > 0 else 0.0
    phases = {name: statistics.median(s.phases_s.get(name, 0.0) for s in samples)
              for name in ("claim", "probe", "write")}
    return Row(
        size=size, ports=ports, scenario=scenario, measured=samples[0].instances,
        rounds=len(samples), wall_s=wall, instances_per_s=rate, cpu_s=cpu,
        cpu_ms_per_instance=cpu / measured * 1000,
        responder_cpu_s=statistics.median(s.responder_cpu_s for s in samples),
        projected_wall_s=per_instance * size, capacity_per_interval=int(rate * INTERVAL_S),
        phases_s=phases, unhealthy=max(s.unhealthy for s in samples),
        walls_s=[round(s.wall_s, 3) for s in samples], note=note)


def monitor_options(concurrency: int, timeout_s: float) -> MonitorOptions:
    """Everything due each round, deep probes only for instances new to a monitor."""
    return MonitorOptions(interval_s=TINY_INTERVAL_S, timeout_s=timeout_s,
                          deep_interval_s=DEEP_OFF_S, deep_timeout_s=timeout_s,
                          concurrency=concurrency)


def bench_size(size: int, resp: Responder, args: argparse.Namespace, workdir: Path,
               deadline: float) -> list[Row]:
    """First-round, steady-state and baseline rows for ``size`` instances: ``args.rounds``
    rounds of each, or one once ``deadline`` (``time.perf_counter``) has passed."""
    url = f"sqlite:///{workdir / f'monitor-{size}.db'}"
    migrate.upgrade(url)
    db = Database(url)
    try:
        ports = resp.ports[:size]
        instance_ids = seed(db, ports, size)
        queue = DatabaseQueue(db)
        options = monitor_options(args.concurrency, args.timeout)
        first: list[Sample] = []
        monitor = Monitor(db, queue, options)
        while not first or (len(first) < args.rounds and time.perf_counter() < deadline):
            monitor = Monitor(db, queue, options)  # every instance is new to it: deep probes
            instrument(monitor)
            first.append(timed_round(monitor, resp))
        steady: list[Sample] = []
        while not steady or (len(steady) < args.rounds and time.perf_counter() < deadline):
            steady.append(timed_round(monitor, resp))
        checked = healthy_and_checked(db)
        subset = instance_ids[:min(size, args.baseline_max)]
        base: list[Sample] = []
        while not base or (len(base) < args.rounds and time.perf_counter() < deadline):
            base.append(naive_round(db, subset, resp, args.timeout))
    finally:
        db.dispose()
    shared = "" if len(ports) >= size else f"{size} instances share {len(ports)} ports"
    problems = [] if checked == size else [f"only {checked}/{size} healthy after the rounds"]
    note = "; ".join(p for p in (shared, *problems) if p)
    base_note = "; ".join(p for p in (
        note, f"measured on {len(subset)}, projected to {size}" if len(subset) < size else "")
        if p)
    return [summarise(size, len(ports), "first (health + deep)", first, note),
            summarise(size, len(ports), "steady (health only)", steady, note),
            summarise(size, len(ports), "baseline (sequential)", base, base_note)]


# --------------------------------------------------------------------------------------------
# Reporting


def table(rows: list[Row], meta: dict[str, Any]) -> Table:
    """The rows as a Rich table."""
    out = Table(title=f"Monitor: one round over N loopback instances "
                      f"({meta['cpus']} cores, concurrency {meta['concurrency']})")
    for name in ("N", "ports", "scenario", "measured", "rounds", "wall s/round", "inst/s",
                 "CPU s/round", "CPU ms/inst", "resp. CPU s", "claim/probe/write s",
                 "s for N", "per 30 s", "vs baseline"):
        out.add_column(name, justify="left" if name == "scenario" else "right")
    baselines = {r.size: r for r in rows if r.scenario.startswith("baseline")}
    for r in rows:
        base = baselines.get(r.size)
        ratio = (f"{base.projected_wall_s / r.projected_wall_s:.1f}x"
                 if base and r is not base and r.projected_wall_s > 0 else "")
        phases = "/".join(f"{r.phases_s[p]:.2f}" for p in ("claim", "probe", "write"))
        out.add_row(f"{r.size:,}", f"{r.ports:,}", r.scenario, f"{r.measured:,}", str(r.rounds),
                    f"{r.wall_s:.2f}", f"{r.instances_per_s:,.0f}", f"{r.cpu_s:.2f}",
                    f"{r.cpu_ms_per_instance:.2f}", f"{r.responder_cpu_s:.2f}", phases,
                    f"{r.projected_wall_s:.2f}", f"{r.capacity_per_interval:,}", ratio)
    return out


def verdict(rows: list[Row]) -> str:
    """Whether one monitor checks ``TARGET`` instances within one interval (steady state)."""
    steady = [r for r in rows if r.scenario.startswith("steady")]
    first = [r for r in rows if r.scenario.startswith("first")]
    if not steady:
        return "no steady-state measurement"
    largest = max(steady, key=lambda r: r.size)
    first_largest = max(first, key=lambda r: r.size) if first else None
    met = largest.size >= TARGET and largest.projected_wall_s <= INTERVAL_S
    text = (f"target {TARGET:,} per {INTERVAL_S:g} s: "
            f"{'met' if met else 'not met' if largest.size >= TARGET else 'not measured'} — "
            f"{largest.size:,} instances in {largest.wall_s:.2f} s (steady)")
    if first_largest is not None:
        text += f", {first_largest.wall_s:.2f} s (first round, with deep probes)"
    return text + f"; projected capacity {largest.capacity_per_interval:,} per interval"


def main() -> None:
    """Parse the options, run every size, print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,2500,5000",
                        help="comma-separated instance counts (default 1000,2500,5000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario (median)")
    parser.add_argument("--baseline-max", type=int, default=300,
                        help="instances the sequential baseline checks per round at most")
    parser.add_argument("--concurrency", type=int, default=MonitorOptions().concurrency)
    parser.add_argument("--timeout", type=float, default=5.0, help="probe timeout, seconds")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds after which each scenario runs one round only")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or min(sizes) < 1 or args.rounds < 1:
        parser.error("--sizes needs positive counts and --rounds at least 1")
    started = time.perf_counter()
    fd_limit = raise_fd_limit()
    pinned = pin(MONITOR_CORE)
    # The responder takes over core 1; the monitor (and its SQLite) keep core 0.
    rows: list[Row] = []
    console = Console(stderr=args.json)
    if console.width < TABLE_WIDTH:  # a narrow or piped terminal would fold every column
        console = Console(stderr=args.json, width=TABLE_WIDTH)
    with responder(max(sizes)) as resp, tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        if resp.error:
            console.print(f"[yellow]responder: {len(resp.ports):,} of {max(sizes):,} ports "
                          f"({resp.error}); instances share ports round-robin[/]")
        # ``run_round`` calls the name ``claim_due`` of its module: time it there.
        service_claim = getattr(service, "claim_due")  # noqa: B009
        setattr(service, "claim_due", PHASES.wrap("claim", service_claim))  # noqa: B010
        try:
            for size in sizes:
                console.print(f"[dim]N={size:,} …[/]")
                rows += bench_size(size, resp, args, Path(tmp), started + args.budget)
        finally:
            setattr(service, "claim_due", service_claim)  # noqa: B010
    meta = {
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "pinned": pinned, "fd_limit": fd_limit, "responder_ports": len(resp.ports),
        "responder_error": resp.error, "concurrency": args.concurrency, "rounds": args.rounds,
        "interval_s": INTERVAL_S, "target": TARGET, "budget_s": args.budget,
        "seconds": round(time.perf_counter() - started, 1), "verdict": verdict(rows),
    }
    if args.json:
        print(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2))
        return
    console.print(table(rows, meta))
    for r in rows:
        if r.note:
            console.print(f"N={r.size:,} {r.scenario}: {r.note}")
    if any(r.rounds < args.rounds for r in rows):
        console.print(f"[yellow]past --budget {args.budget:g} s some scenarios ran fewer "
                      f"rounds (the rounds column)[/]")
    console.print(f"{meta['verdict']}; python {meta['python']}, {meta['cpus']} cores, "
                  f"pinned={pinned}, load average {meta['load_average']}, "
                  f"{meta['seconds']} s in all")


if __name__ == "__main__":
    main()
