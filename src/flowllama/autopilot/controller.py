"""The autopilot controller: one supervised loop that runs every autopilot task in turn every
``FLOWLLAMA_AUTOPILOT__INTERVAL_S`` (in the monitor role: ``flowllama up`` and
``flowllama serve monitor``).

A task is a named callable that does one round of its work (idle sleep, load-based scaling,
budgets, the placement advisor) and returns how many deployments it acted on. Tasks are
independent: one that raises is logged and the others still run; the loop retries the next
round. Several controllers may run (one per monitor process): every action a task takes is a
conditional update, so doing it twice changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flowllama.db.outage import is_unavailable
from flowllama.logging import get_logger
from flowllama.loops import LoopHealth, supervise

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Task:
    """One autopilot concern: ``run()`` does a round and returns the deployments acted on."""

    name: str
    run: Callable[[], int]


class AutopilotController:
    """Runs ``tasks`` every ``interval_s`` in a daemon thread until :meth:`stop`."""

    def __init__(self, tasks: Sequence[Task], interval_s: float,
                 loops: LoopHealth | None = None) -> None:
        self.tasks = list(tasks)
        self.interval_s = interval_s
        self.loops = loops or LoopHealth()
        self._beat = self.loops.register("autopilot")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_round(self) -> dict[str, int]:
        """Every task once; returns what each acted on (a failed task counts -1)."""
        done: dict[str, int] = {}
        failures: list[Exception] = []
        for task in self.tasks:
            try:
                done[task.name] = task.run()
            except Exception as exc:  # one task's failure must not starve the others
                done[task.name] = -1
                failures.append(exc)
                log.warning("autopilot.task_failed", task=task.name, error=str(exc),
                            exc_info=None if is_unavailable(exc) else exc)
        if failures and len(failures) == len(self.tasks):
            raise failures[0]  # nothing worked (the database is down?): let the loop back off
        acted = {name: count for name, count in done.items() if count > 0}
        if acted:
            log.info("autopilot.round", **acted)
        return done

    def start(self) -> None:
        self._thread = threading.Thread(
            target=supervise, args=(self._beat, self._round, self._stopping),
            kwargs={"idle_s": self.interval_s}, name="autopilot", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.loops.retire(self._beat)

    def _round(self) -> bool:
        self.run_round()
        return False
