"""Benchmark the job queue: jobs/s through lease + ack, SQLite and PostgreSQL, 1 and 4 workers.

Paths, measured in one run on one machine, each on a freshly emptied database:
  raw    N jobs enqueued for 50 users (every fifth one paid), then W threads loop
         lease -> ack on the configured queue (``build_queue``) until it is drained: the
         queue's own cost, per-user FIFO and priority included.
  agent  N deployments with cloud "local", one nudge each (``queue.nudges.nudge``); W real
         ``AgentWorker``s, whose ``Reconciler`` finds a no-op provisioner under kind "local",
         take every deployment pending -> provisioning -> starting -> running through the real
         lifecycle (row lease, events, instance row) and ack the job: the agent's database
         work without any cloud.

Per-job latency is, for raw, from the start of the ``lease`` call that returned the job to the
return of its ``ack``; for agent, one ``AgentWorker.run_once`` call that handled a job. Polls
that found nothing are counted, not timed. Each figure is the median of the repeats; every run
is checked afterwards (each job delivered once, every deployment running, the queue empty) and
a run that fails the check is reported as such, not averaged in. Repeats are interleaved
(every path and worker count once, then again) so drifting load on a shared machine hits all
cells alike; no repeat starts after ``--max-seconds``.

``--history H`` puts H finished jobs in the table before each run, as a queue that has run
for a while has them (nothing deletes acked jobs).

PostgreSQL is ``FLOWLLAMA_BENCH_POSTGRES_URL`` (else ``FLOWLLAMA_TEST_POSTGRES_URL``, else
127.0.0.1:5432/test); the script migrates a private schema there and drops it at the end. An
unreachable PostgreSQL is reported and skipped.

Run: python3 bench/queue.py [--jobs N] [--repeats R] [--backends sqlite,postgresql] [--json]
     [--workers 1,4] [--paths raw,agent] [--history H] [--max-seconds S]
"""

from __future__ import annotations

import os
import sys

# ``python3 bench/queue.py`` puts bench/ first on sys.path, where this file would shadow the
# standard library's ``queue`` (which threading pools and SQLAlchemy import).
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(
    os.path.abspath(__file__)
):
    sys.path.pop(0)

import argparse
import json
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, text

from flowllama.agent.reconciler import Reconciler
from flowllama.agent.worker import AgentWorker
from flowllama.db import migrate
from flowllama.db.session import Database
from flowllama.db.tables import Base, Deployment, Instance, Job, User
from flowllama.db.types import new_id, utcnow
from flowllama.devtools.postgres import PostgresUnavailable, private_schema
from flowllama.domain.lifecycle import Status
from flowllama.logging import configure_logging
from flowllama.providers.base import (
    Capabilities,
    Capability,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
)
from flowllama.providers.naming import resource_name
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.queue import JobQueue, QueueSettings, build_queue
from flowllama.queue.nudges import nudge
from flowllama.queue.selection import DONE

POSTGRES_URL = os.environ.get(
    "FLOWLLAMA_BENCH_POSTGRES_URL",
    os.environ.get("FLOWLLAMA_TEST_POSTGRES_URL",
                   "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
USERS = 50
PAID_EVERY = 5
LEASE_S = 120  # far longer than any run: a lease never expires mid-benchmark
RUN_TIMEOUT_S = 60.0
IDLE_SLEEP_S = 0.001
WARMUP_JOBS = 20
PATHS = ("raw", "agent")
HERE = Placement(cloud="local", region="localhost", instance_type="local-process")


class Unavailable(Exception):
    """A backend cannot be reached; the benchmark skips it and says why."""


class NoopProvisioner(Provisioner):
    """A provisioner with nothing behind it: create is instant and the server is always up."""

    kind = "local"

    @property
    def capabilities(self) -> Capabilities:
        """Places only on the ``local`` cloud."""
        return Capabilities(clouds=frozenset({"local"}), features=frozenset({Capability.ADOPT}))

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        """A handle named like a real one; nothing is started."""
        return Handle(self.kind, spec.deployment_id, resource_name(spec.deployment_id))

    def find(self, spec: DeploymentSpec) -> Handle | None:
        """Nothing is ever left to adopt."""
        return None

    def refresh(self, handle: Handle) -> ResourceState:
        """Always running, at a placeholder endpoint."""
        return ResourceState(exists=True, running=True, endpoint_url="http://127.0.0.1:1")

    def destroy(self, handle: Handle) -> None:
        """Nothing to remove."""


@dataclass
class RunResult:
    """One timed drain: how long it took, each handled job's latency, and whether it checked out."""

    backend: str
    path: str
    workers: int
    jobs: int
    elapsed_s: float
    enqueue_s: float
    latencies_s: list[float] = field(repr=False)
    empty_polls: int
    problems: list[str]

    @property
    def jobs_per_s(self) -> float:
        """Handled jobs over the drain's wall time."""
        return self.jobs / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def enqueue_per_s(self) -> float:
        """Jobs over the time one thread took to enqueue them."""
        return self.jobs / self.enqueue_s if self.enqueue_s > 0 else 0.0


@dataclass
class Summary:
    """The medians of one backend x path x workers cell over its good repeats."""

    backend: str
    path: str
    workers: int
    jobs: int
    repeats: int
    failed: int
    jobs_per_s: float
    p50_ms: float
    p95_ms: float
    enqueue_per_s: float
    empty_polls: int
    runs_jobs_per_s: list[float]
    vs_one_worker: float | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Drain:
    """Shared state of the worker threads of one run."""

    total: int
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    handled: int = 0
    empty_polls: int = 0
    latencies_s: list[float] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finished_at: float = 0.0

    def done(self) -> bool:
        """Every job handled, or a worker failed (then the others stop too)."""
        with self.lock:
            return self.handled >= self.total or bool(self.errors)

    def record(self, latency_s: float, job_id: str | None = None) -> None:
        """One job handled in ``latency_s``; ``job_id`` when the caller saw it (raw path)."""
        with self.lock:
            self.handled += 1
            self.latencies_s.append(latency_s)
            if job_id is not None:
                self.delivered.append(job_id)
            self.finished_at = time.perf_counter()

    def idle(self) -> None:
        """A poll that found nothing to lease."""
        with self.lock:
            self.empty_polls += 1


# --- databases ---------------------------------------------------------------------------------


@contextmanager
def sqlite_url() -> Iterator[str]:
    """A migrated SQLite file in a temporary folder (WAL, as the platform configures it)."""
    with tempfile.TemporaryDirectory(prefix="flowllama-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'queue.db'}"
        migrate.upgrade(url)
        yield url


@contextmanager
def postgres_url() -> Iterator[str]:
    """A migrated private schema on the machine's PostgreSQL, dropped afterwards."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(private_schema(POSTGRES_URL, "fl_bench"))
        except PostgresUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        migrate.upgrade(url)
        yield url


BACKENDS: dict[str, Callable[[], Any]] = {"sqlite": sqlite_url, "postgresql": postgres_url}


def empty(db: Database) -> None:
    """Delete every row, children first (as the test suite does between tests)."""
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def make_users(db: Database, count: int) -> list[str]:
    """``count`` users, every :data:`PAID_EVERY`-th on the paid tier."""
    users = [User(email=f"bench-{i}@example.com", password_hash="x",
                  tier="paid" if i % PAID_EVERY == 0 else "free") for i in range(count)]
    with db.session() as session:
        session.add_all(users)
        session.flush()
        return [user.id for user in users]


def make_deployments(db: Database, users: list[str], count: int) -> list[Deployment]:
    """``count`` pending ``cloud: local`` deployments, spread round-robin over ``users``."""
    rows = [Deployment(user_id=users[i % len(users)], name=f"bench-{i}", model="llama3.2:1b",
                       context_size=4096, cloud="local") for i in range(count)]
    with db.session() as session:
        session.add_all(rows)
    return rows


def seed_history(db: Database, users: list[str], count: int) -> None:
    """``count`` finished jobs from a day ago, as a queue that has run for a while keeps them
    (acked jobs stay in the table as ``done``). Written as rows: through the queue it would
    take longer than the benchmark. PostgreSQL then gets the ``ANALYZE`` its autovacuum would
    run on a real install; without it, plans cached while the table was small (psycopg
    prepares repeated statements) stay in use. SQLite is left as the platform leaves it."""
    if count <= 0:
        return
    then = utcnow() - timedelta(days=1)
    rows = [{"id": new_id(), "user_id": users[i % len(users)], "kind": "bench", "payload": {},
             "priority": 0, "status": DONE, "attempts": 1, "max_attempts": 3,
             "run_after": then, "created_at": then, "updated_at": then} for i in range(count)]
    with db.session() as session:
        for start in range(0, count, 5_000):
            session.execute(insert(Job), rows[start:start + 5_000])
        if db.dialect == "postgresql":
            session.execute(text("ANALYZE jobs"))


def new_queue(db: Database) -> JobQueue:
    """The queue as the platform builds it, with a lease no run outlives."""
    return build_queue(QueueSettings(lease_s=LEASE_S), db)


# --- runs --------------------------------------------------------------------------------------


Step = Callable[[], str | None]
"""One unit of work: the handled job's id ("" when not visible), or None when idle."""


def run_threads(workers: int, make_step: Callable[[], Step], drain: Drain) -> float:
    """Start ``workers`` threads together, each calling its own ``make_step()`` until every job
    is handled; seconds from the start until the last job finished."""
    gate = threading.Barrier(workers + 1)

    def target() -> None:
        step = make_step()
        gate.wait()
        try:
            while not drain.done() and time.monotonic() < drain.deadline:
                start = time.perf_counter()
                job_id = step()
                if job_id is None:
                    drain.idle()
                    time.sleep(IDLE_SLEEP_S)
                else:
                    drain.record(time.perf_counter() - start, job_id or None)
        except Exception as exc:  # recorded and reported: a benchmark must not hang on a bug
            with drain.lock:
                drain.errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=target, name=f"bench-worker-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    gate.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return max(0.0, drain.finished_at - start)


def lease_and_ack(queue: JobQueue) -> str | None:
    """The raw path's unit of work."""
    job = queue.lease()
    if job is None:
        return None
    queue.ack(job)
    return job.id


def agent_step(worker: AgentWorker) -> Step:
    """The agent path's unit of work: one ``run_once`` of a real worker."""
    return lambda: "" if worker.run_once() else None


def run_raw(db: Database, backend: str, jobs: int, workers: int, history: int = 0
            ) -> RunResult:
    """Enqueue ``jobs`` across :data:`USERS` users, then drain them with ``workers`` threads."""
    empty(db)
    users = make_users(db, USERS)
    seed_history(db, users, history)
    queue = new_queue(db)
    start = time.perf_counter()
    for i in range(jobs):
        queue.enqueue(users[i % len(users)], "bench", {"n": i})
    enqueue_s = time.perf_counter() - start
    drain = Drain(total=jobs, deadline=time.monotonic() + RUN_TIMEOUT_S)
    elapsed = run_threads(workers, lambda: lambda: lease_and_ack(queue), drain)
    problems = drain.errors + check_raw(queue, drain, jobs)
    return RunResult(backend, "raw", workers, drain.handled, elapsed, enqueue_s,
                     drain.latencies_s, drain.empty_polls, problems)


def run_agent(db: Database, backend: str, jobs: int, workers: int, history: int = 0
              ) -> RunResult:
    """Nudge ``jobs`` pending local deployments, then let ``workers`` agents run them up."""
    empty(db)
    users = make_users(db, USERS)
    seed_history(db, users, history)
    deployments = make_deployments(db, users, jobs)
    queue = new_queue(db)
    registry = ProvisionerRegistry()
    registry.register("local", NoopProvisioner)
    reconciler = Reconciler(db, registry, lease_s=LEASE_S)
    start = time.perf_counter()
    for deployment in deployments:
        nudge(queue, deployment)
    enqueue_s = time.perf_counter() - start
    drain = Drain(total=jobs, deadline=time.monotonic() + RUN_TIMEOUT_S)
    # One AgentWorker per thread, as the agent service runs them.
    elapsed = run_threads(workers, lambda: agent_step(AgentWorker(db, queue, reconciler)), drain)
    problems = drain.errors + check_agent(db, queue, jobs)
    return RunResult(backend, "agent", workers, drain.handled, elapsed, enqueue_s,
                     drain.latencies_s, drain.empty_polls, problems)


def check_queue_empty(queue: JobQueue) -> list[str]:
    """Nothing ready, delayed, in flight or dead once a run is over."""
    depth = queue.depth()
    if (depth.ready, depth.delayed, depth.in_flight, depth.dead) != (0, 0, 0, 0):
        return [f"queue not empty after the run: {depth}"]
    return []


def check_raw(queue: JobQueue, drain: Drain, jobs: int) -> list[str]:
    """Every job acked exactly once and nothing left behind."""
    problems = check_queue_empty(queue)
    if drain.handled != jobs:
        problems.append(f"{drain.handled} of {jobs} jobs acked before the time limit")
    if len(set(drain.delivered)) != len(drain.delivered):
        problems.append(f"{len(drain.delivered) - len(set(drain.delivered))} duplicate deliveries")
    return problems


def check_agent(db: Database, queue: JobQueue, jobs: int) -> list[str]:
    """Every deployment running with one live instance, no lease left, nothing queued."""
    problems = check_queue_empty(queue)
    with db.session() as session:
        running = session.scalar(select(func.count()).select_from(Deployment).where(
            Deployment.status == Status.RUNNING, Deployment.lease_token.is_(None)))
        instances = session.scalar(select(func.count()).select_from(Instance))
    if running != jobs:
        problems.append(f"{running} of {jobs} deployments running and unleased")
    if instances != jobs:
        problems.append(f"{instances} instance rows for {jobs} deployments")
    return problems


RUNNERS: dict[str, Callable[[Database, str, int, int, int], RunResult]] = {
    "raw": run_raw, "agent": run_agent,
}


# --- summary and output ------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summarise(runs: list[RunResult]) -> Summary:
    """Medians over the runs that passed their check; failures are counted and described."""
    good = [run for run in runs if not run.problems]
    failed = [run for run in runs if run.problems]
    first = runs[0]

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    return Summary(
        backend=first.backend, path=first.path, workers=first.workers,
        jobs=max(run.jobs for run in runs),
        repeats=len(good), failed=len(failed),
        jobs_per_s=median([run.jobs_per_s for run in good]),
        p50_ms=median([percentile(run.latencies_s, 0.50) * 1000 for run in good]),
        p95_ms=median([percentile(run.latencies_s, 0.95) * 1000 for run in good]),
        enqueue_per_s=median([run.enqueue_per_s for run in good]),
        empty_polls=round(median([float(run.empty_polls) for run in good])),
        runs_jobs_per_s=[round(run.jobs_per_s, 1) for run in good],
        problems=sorted({problem for run in failed for problem in run.problems}),
    )


def add_ratios(summaries: list[Summary]) -> None:
    """Each cell's jobs/s over the same backend and path with one worker."""
    single = {(s.backend, s.path): s.jobs_per_s for s in summaries if s.workers == 1}
    for summary in summaries:
        base = single.get((summary.backend, summary.path))
        if base:
            summary.vs_one_worker = summary.jobs_per_s / base


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def print_table(summaries: list[Summary], skipped: dict[str, str], info: dict[str, Any]
                ) -> None:
    """The Rich table, then skipped backends, failed runs and the machine."""
    console = Console(width=max(Console().width, 132))
    history = f", {info['history']:,} done jobs already queued" if info["history"] else ""
    done = sorted({s.repeats for s in summaries}) or [0]
    repeats = f"{done[0]}" if len(done) == 1 else f"{done[0]}-{done[-1]}"
    table = Table(title=f"Job queue, median of {repeats} repeats "
                        f"({info['jobs']} jobs over {USERS} users{history}, no-op provisioner)")
    for column in ("backend", "path", "workers", "jobs/s", "vs 1 worker", "p50 ms", "p95 ms",
                   "enqueue/s", "empty polls", "runs (jobs/s)"):
        table.add_column(column, justify="left" if column in ("backend", "path") else "right")
    for s in summaries:
        ratio = f"{s.vs_one_worker:.2f}x" if s.vs_one_worker is not None else "-"
        runs = ", ".join(f"{value:.0f}" for value in s.runs_jobs_per_s)
        if s.failed:
            runs += f" ({s.failed} failed)"
        table.add_row(s.backend, s.path, str(s.workers), f"{s.jobs_per_s:,.0f}", ratio,
                      f"{s.p50_ms:.1f}", f"{s.p95_ms:.1f}", f"{s.enqueue_per_s:,.0f}",
                      str(s.empty_polls), runs)
    console.print(table)
    for backend, reason in skipped.items():
        console.print(f"[yellow]skipped {backend}[/]: {reason}")
    for s in summaries:
        for problem in s.problems:
            console.print(f"[red]{s.backend} {s.path} x{s.workers}[/]: {problem}")
    load = info["machine"]["load_average"]
    console.print(f"python {info['machine']['python']} on {info['machine']['machine']}, "
                  f"{info['machine']['cpus']} CPUs, load average before {info['load_before']}"
                  f" after {load}, {info['wall_s']:.0f} s in all")


# --- main --------------------------------------------------------------------------------------


def bench_backend(name: str, args: argparse.Namespace, deadline: float,
                  log: Callable[[str], None]) -> list[Summary]:
    """Warm up, then every path x worker count, repeats interleaved, on one backend; no
    repeat after the first starts past ``deadline`` (a ``perf_counter`` value)."""
    with BACKENDS[name]() as url:
        db = Database(url)
        try:
            for path in args.paths:  # open the pool's connections and fill the statement caches
                RUNNERS[path](db, name, WARMUP_JOBS, max(args.workers), 0)
            runs: dict[tuple[str, int], list[RunResult]] = {}
            for repeat in range(args.repeats):
                if repeat and time.perf_counter() > deadline:
                    log(f"{name}: --max-seconds reached, {repeat} of {args.repeats} repeats")
                    break
                for path in args.paths:
                    for workers in args.workers:
                        result = RUNNERS[path](db, name, args.jobs, workers, args.history)
                        runs.setdefault((path, workers), []).append(result)
                        log(f"{name} {path} x{workers} #{repeat + 1}: "
                            f"{result.jobs_per_s:,.0f} jobs/s"
                            + (f" PROBLEMS {result.problems}" if result.problems else ""))
        finally:
            db.dispose()
    return [summarise(results) for results in runs.values()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with lists split and checked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=80, help="jobs per run (default 80)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per cell (default 5)")
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--workers", default="1,4", help="worker thread counts (default 1,4)")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated: raw, agent")
    parser.add_argument("--history", type=int, default=0,
                        help="done jobs already in the table at the start of each run")
    parser.add_argument("--max-seconds", type=float, default=100.0,
                        help="start no further repeat after this long (default 100)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    args.paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not args.paths or set(args.paths) - set(PATHS):
        parser.error(f"--paths takes some of: {', '.join(PATHS)}")
    args.workers = sorted({int(w) for w in args.workers.split(",")})
    if args.jobs < 1 or args.repeats < 1 or min(args.workers) < 1 or args.history < 0:
        parser.error("--jobs, --repeats and --workers must be positive, --history not negative")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run every requested backend, print the table (or JSON); exit 1 if a run failed."""
    args = parse_args(argv)
    # Warnings (a lost lease) still show; with --json they would corrupt the output.
    configure_logging("bench", level="error" if args.json else "warning", fmt="console")
    started = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]

    def log(line: str) -> None:
        if not args.json:
            print(line, file=sys.stderr, flush=True)

    summaries: list[Summary] = []
    skipped: dict[str, str] = {}
    for name in args.backends:
        try:
            summaries.extend(bench_backend(name, args, started + args.max_seconds, log))
        except Unavailable as exc:
            skipped[name] = str(exc)
    add_ratios(summaries)
    info = {"jobs": args.jobs, "repeats": args.repeats, "users": USERS, "history": args.history,
            "workers": args.workers, "machine": machine(), "load_before": load_before,
            "wall_s": round(time.perf_counter() - started, 1)}
    if args.json:
        print(json.dumps({**info, "skipped": skipped,
                          "results": [asdict(s) for s in summaries]}, indent=2))
    else:
        print_table(summaries, skipped, info)
    if any(s.failed for s in summaries):
        sys.exit(1)


if __name__ == "__main__":
    main()
