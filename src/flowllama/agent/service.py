"""The running agent: worker threads over one queue and one reconciler, and a sweeper.

``flowllama up`` starts one inside the all-in-one process; ``flowllama serve agent`` runs one on
its own. A heartbeat thread renews, every third of ``lease_s``, the row and job leases of the
steps under way. On start, leases left by a dead agent of this host are freed and their
deployments nudged at once. Stopping lets each worker finish its current step for ``grace_s``;
steps still running after that have their row leases released, so another agent takes over at
once instead of waiting for the leases to expire (every step is safe to repeat).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from functools import partial

from flowllama.agent import leases
from flowllama.agent.leases import HeldLeases
from flowllama.agent.placement import PROVISIONER_BY_CLOUD
from flowllama.agent.reconciler import DrainPolicy, Reconciler
from flowllama.agent.worker import AgentWorker
from flowllama.db.session import Database
from flowllama.logging import get_logger
from flowllama.loops import Beat, LoopHealth, supervise
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.queue.base import JobQueue

log = get_logger(__name__)

Hook = Callable[[], None]


class AgentService:
    """``workers`` threads leasing nudges, plus a sweeper every ``sweep_interval_s``.

    ``on_start`` runs before the first job (e.g. re-adopting local runtimes); ``on_stop``
    after the workers are stopped (e.g. stopping local runtimes); ``on_sweep`` with every sweep
    (e.g. stopping local runtimes that no live deployment owns). ``held`` is shared with
    whatever else writes for a step (the model-download progress recorder).
    """

    def __init__(
        self, db: Database, queue: JobQueue, registry: ProvisionerRegistry, *,
        workers: int = 2, lease_s: float = 30, poll_s: float = 1.0,
        sweep_interval_s: float = 30.0, wait_s: float = 5.0,
        kinds: Mapping[str, str] = PROVISIONER_BY_CLOUD, max_heals: int = 3,
        on_start: Hook | None = None, on_stop: Hook | None = None,
        loops: LoopHealth | None = None,
        on_sweep: Hook | None = None, held: HeldLeases | None = None,
        drain: DrainPolicy | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("an agent needs at least one worker")
        self.db = db
        self.registry = registry
        self.reconciler = Reconciler(db, registry, lease_s=lease_s, kinds=kinds,
                                     max_heals=max_heals, held=held, drain=drain)
        self.workers = [AgentWorker(db, queue, self.reconciler, poll_s=poll_s, wait_s=wait_s,
                                    job_lease_s=lease_s)
                        for _ in range(workers)]
        self.sweep_interval_s = sweep_interval_s
        self.heartbeat_s = lease_s / 3
        self._on_start = on_start
        self._on_stop = on_stop
        self._on_sweep = on_sweep
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.loops = loops or LoopHealth()
        self._beats: list[Beat] = []
        self._heart_stopping = threading.Event()
        self._heart: threading.Thread | None = None

    def start(self) -> None:
        """Run the start hook, then the workers and the sweeper in daemon threads."""
        if self._on_start is not None:
            self._on_start()
        freed = leases.free_dead(self.db)
        if freed:
            log.info("agent.dead_leases_freed", deployments=freed)
            self.workers[0].resume(freed)
        for number, worker in enumerate(self.workers, start=1):
            beat = self._register(f"agent-worker-{number}")
            self._spawn(partial(worker.run, beat), beat.name)
        sweeper = self._register("agent-sweeper")
        self._spawn(partial(supervise, sweeper, self._sweep_once, self._stopping,
                            idle_s=self.sweep_interval_s), sweeper.name)
        heart = self._register("agent-heartbeat")
        self._heart = threading.Thread(target=self._heartbeat_forever, args=(heart,),
                                       name=heart.name, daemon=True)
        self._heart.start()
        log.info("agent.started", workers=len(self.workers))

    def _register(self, name: str) -> Beat:
        beat = self.loops.register(name)
        self._beats.append(beat)
        return beat

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _sweep_once(self) -> bool:
        # The first sweep runs at once: nudges lost while no agent ran are found on start.
        self.workers[0].sweep()
        if self._on_sweep is not None:
            self._on_sweep()
        return False

    def _heartbeat_forever(self, beat: Beat) -> None:
        """Renew the leases of the steps under way until the workers have stopped (each beat
        recorded on ``beat``: ``/ready`` and the last-success metric see it)."""
        try:
            while not self._heart_stopping.wait(self.heartbeat_s):
                try:
                    self.reconciler.renew_held()
                    for worker in self.workers:
                        worker.extend_job()
                except Exception as exc:  # a database hiccup: the next beat retries in time
                    beat.failed(exc)  # no backoff: a late renewal would lose the leases
                    log.exception("agent.heartbeat_failed")
                else:
                    beat.succeeded()
        finally:
            if not self._heart_stopping.is_set():  # ended by something no beat survives
                beat.died()
                log.error("loop.died", loop=beat.name)

    def stop(self, grace_s: float = 30.0) -> bool:
        """Stop taking jobs, wait up to ``grace_s`` for current steps, release what is left,
        run the stop hook. Returns whether every step finished in time."""
        self._stopping.set()
        self.reconciler.stop()
        for worker in self.workers:
            worker.stop()
        finished = _join_all(self._threads, grace_s)
        self._heart_stopping.set()
        if self._heart is not None:
            self._heart.join(grace_s)
        for beat in self._beats:
            self.loops.retire(beat)
        if not finished:
            released = self.reconciler.release_all()
            log.warning("agent.steps_abandoned", deployments=released)
        if self._on_stop is not None:
            self._on_stop()
        log.info("agent.stopped", finished=finished)
        return finished


def _join_all(threads: list[threading.Thread], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)
