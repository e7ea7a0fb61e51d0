"""The monitor loop: every ``interval_s``, claim the due instances, probe them concurrently
(bounded), write the verdicts. Every ``deep_interval_s`` an instance also gets the deep probe.

Runs in a thread of its own (``flowllama up``, ``flowllama serve monitor``); each round runs an
asyncio loop so thousands of probes share one thread and one connection pool.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx

from flowllama.db.session import Database
from flowllama.errors import ConfigError
from flowllama.logging import get_logger
from flowllama.loops import LoopHealth, supervise
from flowllama.metrics import HEALTH_CHECK_SECONDS, HEALTH_CHECKS
from flowllama.metrics.instruments import MONITOR_INTERVAL_SECONDS, MONITOR_ROUND_SECONDS
from flowllama.monitor.probes import ProbeResult, Target, deep_probe, health_check
from flowllama.monitor.targets import claim_due
from flowllama.monitor.verdicts import HealPolicy, Verdicts
from flowllama.platform import Platform
from flowllama.queue.base import JobQueue
from flowllama.security.runtime_keys import RuntimeKeys
from flowllama.security.upstream_secrets import UpstreamSecrets

log = get_logger(__name__)

ResultHook = Callable[[Target, ProbeResult, bool], None]


@dataclass(frozen=True, slots=True)
class MonitorOptions:
    """Intervals, timeouts and concurrency of the monitor (``FLOWLLAMA_MONITOR__*``)."""

    interval_s: float = 30.0
    timeout_s: float = 5.0
    deep_interval_s: float = 300.0
    deep_timeout_s: float = 30.0
    concurrency: int = 256


@dataclass(frozen=True, slots=True)
class RoundReport:
    checked: int
    unhealthy: int
    seconds: float


class Monitor:
    """Checks instances; call :meth:`run_round` directly or :meth:`start`/:meth:`stop`."""

    def __init__(self, db: Database, queue: JobQueue, options: MonitorOptions | None = None,
                 policy: HealPolicy | None = None, on_result: ResultHook | None = None,
                 *, runtime_keys: RuntimeKeys | None = None,
                 upstream_secrets: UpstreamSecrets | None = None,
                 loops: LoopHealth | None = None) -> None:
        self.db = db
        self.runtime_keys = runtime_keys
        self.upstream_secrets = upstream_secrets
        self.options = options or MonitorOptions()
        self.verdicts = Verdicts(db, queue, policy or HealPolicy())
        self.on_result = on_result
        # When each instance is next due for a deep probe (monotonic seconds).
        self._next_deep: dict[str, float] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.loops = loops or LoopHealth()
        self._beat = self.loops.register("monitor")
        MONITOR_INTERVAL_SECONDS.set(self.options.interval_s)

    def run_round(self) -> RoundReport:
        """One interval's work: claim, probe, record (in a few transactions)."""
        started = time.monotonic()
        targets = [self._keyed(target) for target in claim_due(self.db, self.options.interval_s)]
        results = asyncio.run(self._probe_all(targets)) if targets else []
        self._forget_old_deep_probes()
        self.verdicts.apply_all([(target, result)
                                 for target, (result, _) in zip(targets, results, strict=True)])
        unhealthy = 0
        for target, (result, deep) in zip(targets, results, strict=True):
            unhealthy += result.health == "unhealthy"
            HEALTH_CHECKS.labels(result=f"{result.health}{'_deep' if deep else ''}").inc()
            if result.latency_ms is not None:
                HEALTH_CHECK_SECONDS.observe(result.latency_ms / 1000)
            if self.on_result is not None:
                self.on_result(target, result, deep)
        seconds = time.monotonic() - started
        MONITOR_ROUND_SECONDS.set(seconds)
        return RoundReport(len(targets), unhealthy, seconds)

    def _keyed(self, target: Target) -> Target:
        """``target`` with its runtime key attached (runtimes refuse probes without it); an
        external server's own secret instead, never the runtime key."""
        if target.external:
            try:
                secret = (self.upstream_secrets.headers(target.sealed_secret)
                          if self.upstream_secrets is not None else {})
            except ConfigError as exc:  # unreadable: probe without it, so the check fails
                log.warning("monitor.external_secret_unreadable",
                            deployment_id=target.deployment_id, error=str(exc))
                secret = {}
            return replace(target, headers=tuple(secret.items()), sealed_secret=None)
        if self.runtime_keys is None:
            return target
        headers = tuple(self.runtime_keys.headers(target.deployment_id).items())
        return replace(target, headers=headers)

    def _forget_old_deep_probes(self) -> None:
        """Instances gone for two deep intervals leave no trace (bounded memory)."""
        horizon = time.monotonic() - 2 * self.options.deep_interval_s
        self._next_deep = {k: v for k, v in self._next_deep.items() if v > horizon}

    async def _probe_all(self, targets: list[Target]) -> list[tuple[ProbeResult, bool]]:
        gate = asyncio.Semaphore(self.options.concurrency)
        # Every instance is an origin of its own, so an idle connection is never reused by the
        # next probe; keeping none idle also keeps httpcore's pool bookkeeping, which scans
        # the idle connections on every request, from growing quadratic in ``concurrency``.
        limits = httpx.Limits(max_connections=self.options.concurrency,
                              max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

            async def one(target: Target) -> tuple[ProbeResult, bool]:
                async with gate:
                    return await self._probe(client, target)

            return list(await asyncio.gather(*(one(t) for t in targets)))

    async def _probe(self, client: httpx.AsyncClient, target: Target
                     ) -> tuple[ProbeResult, bool]:
        result = await health_check(client, target, self.options.timeout_s)
        now = time.monotonic()
        due = self._next_deep.get(target.instance_id, now)
        if result.health != "healthy" or now < due:
            return result, False
        # Jittered, so instances first probed in one round do not all come due together again.
        interval = self.options.deep_interval_s
        self._next_deep[target.instance_id] = now + interval * random.uniform(0.75, 1.25)  # noqa: S311 - spreading load, not security
        return await deep_probe(client, target, self.options.deep_timeout_s), True

    def start(self) -> None:
        """Run rounds in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name="monitor", daemon=True)
        self._thread.start()
        log.info("monitor.started", interval_s=self.options.interval_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.loops.retire(self._beat)

    def _loop(self) -> None:
        # Wake often enough that an instance is checked about once per interval; a failed
        # round (the database went away) backs off and is retried by ``supervise``.
        pause = max(0.05, min(1.0, self.options.interval_s / 10))
        supervise(self._beat, self._round, self._stopping, idle_s=pause)

    def _round(self) -> bool:
        report = self.run_round()
        if report.checked:
            log.info("monitor.round", checked=report.checked,
                     unhealthy=report.unhealthy, seconds=round(report.seconds, 3))
        return False


def build_monitor(platform: Platform) -> Monitor:
    """The monitor configured by ``platform.settings.monitor``."""
    settings = platform.settings.monitor
    options = MonitorOptions(
        interval_s=settings.interval_s, timeout_s=settings.timeout_s,
        deep_interval_s=settings.deep_interval_s, deep_timeout_s=settings.deep_timeout_s,
        concurrency=settings.concurrency,
    )
    policy = HealPolicy(failures_before_unhealthy=settings.failures_before_unhealthy,
                        heal_backoff_s=settings.heal_backoff_s,
                        heal_backoff_max_s=settings.heal_backoff_max_s)
    return Monitor(platform.db, platform.queue, options, policy,
                   runtime_keys=platform.runtime_keys,
                   upstream_secrets=platform.upstream_secrets, loops=platform.loops)
