"""Model download progress, recorded on the deployment while a runtime pulls its model.

The status message always shows the latest step; an event is written only at each quarter, so
a long pull leaves a readable timeline instead of thousands of rows. Each write is part of the
step that downloads, so it is fenced by that step's lease. The callback ends the download by
raising: :class:`LeaseLost` once the step no longer holds the lease (the heartbeat found it
lost, or the fenced write did), so a frozen agent that wakes up stops at its next progress
report instead of pulling on; :class:`StepCancelled` when the deployment's desired state
changed meanwhile (deleted or stopped while downloading).
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
        if self.held.token(deployment_id) is None:  # dropped by the heartbeat: lease lost
            self._forget(deployment_id)
            raise LeaseLost(f"lease on deployment {deployment_id} is no longer held; "
                            "the download stops")
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
        except LeaseLost:  # another agent acts on the deployment now: end our download
            self._forget(deployment_id)
            log.info("agent.download_stopped_lease_lost", deployment_id=deployment_id)
            raise

    def _forget(self, deployment_id: str) -> None:
        with self._lock:
            self._last_step.pop(deployment_id, None)

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
