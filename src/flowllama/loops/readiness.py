"""What ``/ready`` answers, shared by the HTTP apps (``api/routers/health.py``) and the
``/metrics``-only listener of ``flowllama serve agent`` and ``serve monitor``
(``metrics/exposition.py``), so every role reports readiness the same way.

Ready means the database answers a trivial query and no background loop of this process is a
problem (:meth:`~flowllama.loops.health.LoopHealth.problems`): ended without being stopped, or
failing without a success for longer than its ``stale_after_s``. A failing loop is named with
its last error's class (``OperationalError``); the error's text (SQL, parameters, hosts) is
shown only with ``detail``: on the metrics listener, which operators reach, never on the HTTP
apps' public ``/ready``. The full text is always in the ``loop.step_failed`` log line.
"""

from __future__ import annotations

from typing import Protocol

from flowllama.loops.health import LoopHealth

RETRY_AFTER_S = 5


class Pingable(Protocol):
    def ping(self) -> bool: ...


def readiness(db: Pingable, loops: LoopHealth, *, detail: bool
              ) -> tuple[int, dict[str, object]]:
    """``(200, {"status": "ready", "database": "ok", "loops": [names]})`` when ready, else
    ``(503, {"error": {"code": "not_ready", "message", "loops": {name: why}}})``; a 503 is
    sent with ``Retry-After: RETRY_AFTER_S``. ``why`` carries error text only with
    ``detail``."""
    database = db.ping()
    problems = loops.problems(detail=detail)
    if database and not problems:
        checked = sorted(beat.name for beat in loops.beats())
        return 200, {"status": "ready", "database": "ok", "loops": checked}
    if not database:
        message = "Database is not reachable"
    else:
        message = "Background loop not healthy: " + ", ".join(sorted(problems))
    return 503, {"error": {"code": "not_ready", "message": message, "loops": problems}}
