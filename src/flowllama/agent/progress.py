"""Model download progress, recorded on the deployment while a runtime pulls its model.

The status message always shows the latest step; an event is written only at each quarter, so
a long pull leaves a readable timeline instead of thousands of rows. Each write is part of the
step that downloads, so it is fenced by that step's lease: without the lease nothing is written.
When the deployment's desired state changed meanwhile (deleted or stopped while downloading),
the callback raises :class:`StepCancelled`, which ends the download.
"""

from __future__ import annotations

import threading

from flowllama.agent import leases
from flowllama.agent.leases import HeldLeases, LeaseLost, StepCancelled
from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.logging import get_logger
from flowllama.runtimes import PullProgress
from flowllama.services.deployment_status import record_event

log = get_logger(__name__)

EVENT_STEPS = 4


class ProgressRecorder:
    """``recorder(deployment_id, progress)``: the provisioners' progress callback."""

    def __init__(self, db: Database, held: HeldLeases) -> None:
        self.db = db
        self.held = held
        self._last_step: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, deployment_id: str, progress: PullProgress) -> None:
        if self.held.cancelled(deployment_id):
            raise StepCancelled(f"deployment {deployment_id} no longer wants this download")
        fraction = progress.fraction
        message = progress.status if fraction is None else (
            f"{progress.status} ({fraction:.0%})")
        step = -1 if fraction is None else int(fraction * EVENT_STEPS)
        with self._lock:
            new_step = step > self._last_step.get(deployment_id, -1)
            if new_step:
                self._last_step[deployment_id] = step
            if fraction is not None and fraction >= 1:
                self._last_step.pop(deployment_id, None)
        try:
            self._write(deployment_id, progress, message, new_step=new_step)
        except LeaseLost:  # another agent acts on the deployment now: its story, not ours
            log.info("agent.progress_not_recorded", deployment_id=deployment_id)

    def _write(self, deployment_id: str, progress: PullProgress, message: str, *,
               new_step: bool) -> None:
        fraction = progress.fraction
        with leases.fenced(self.db, deployment_id, self.held.token(deployment_id)) as session:
            deployment = session.get(Deployment, deployment_id)
            if deployment is None:
                return
            deployment.status_message = message
            if new_step:
                record_event(session, deployment, f"preparing model: {message}",
                             {"status": progress.status, "fraction": fraction,
                              "completed_bytes": progress.completed_bytes,
                              "total_bytes": progress.total_bytes})
