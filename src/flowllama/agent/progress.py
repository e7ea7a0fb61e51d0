"""Model download progress, recorded on the deployment while a runtime pulls its model.

The status message always shows the latest step; an event is written only at each quarter, so
a long pull leaves a readable timeline instead of thousands of rows.
"""

from __future__ import annotations

import threading

from flowllama.services.deployment_status import record_event
from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.runtimes import PullProgress

EVENT_STEPS = 4


class ProgressRecorder:
    """``recorder(deployment_id, progress)``: the provisioners' progress callback."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._last_step: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, deployment_id: str, progress: PullProgress) -> None:
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
        with self.db.session() as session:
            deployment = session.get(Deployment, deployment_id)
            if deployment is None:
                return
            deployment.status_message = message
            if new_step:
                record_event(session, deployment, f"preparing model: {message}",
                       {"status": progress.status, "fraction": fraction,
                        "completed_bytes": progress.completed_bytes,
                        "total_bytes": progress.total_bytes})
