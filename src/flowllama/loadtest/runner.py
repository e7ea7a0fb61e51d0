"""Runs one load test and stores it: the entry point for the CLI, the API and the scheduler.

    run_loadtest(config: LoadtestConfig, store: ResultsStore,
                 progress: Callable[[dict], None] | None = None,
                 *, run_id: str | None = None, cancel: threading.Event | None = None) -> dict

blocks for ``config.duration_s`` (plus start-up and a few seconds), runs Locust in a child
process (:mod:`flowllama.loadtest.worker`: Locust's gevent patching must not touch the
caller's process, so this is safe to call from the API server, e.g. in a thread), calls
``progress`` about once a second with ``{"elapsed_s", "duration_s", "users", "requests",
"failures", "rps", "output_tokens"}``, and returns the summary (schema version 1) after
:meth:`ResultsStore.write_run` stored the run. Nothing is stored when the run fails or is
interrupted (the child is stopped; :class:`LoadtestFailed` or the interrupt propagates), or
cancelled: setting ``cancel`` stops the run within about a second and raises
:class:`LoadtestCancelled`.
``config`` is validated first (:class:`~flowllama.errors.InvalidInput` naming the field).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowllama.errors import ConfigError, FlowLlamaError
from flowllama.loadtest.config import LoadtestConfig
from flowllama.loadtest.store import ResultsStore, new_run_id

Progress = Callable[[dict[str, Any]], None]
RUN_FILES = ("stats.csv", "stats_history.csv", "failures.csv", "exceptions.csv",
             "llm_requests.csv")
# Start-up, the last in-flight requests and writing the files, beyond the duration.
GRACE_S = 90
LOG_TAIL_CHARS = 2000


class LoadtestFailed(FlowLlamaError):
    """The worker died or overran; the message ends with its log's tail."""


class LoadtestCancelled(FlowLlamaError):
    """``cancel`` was set before the run finished; nothing was stored."""


def run_loadtest(config: LoadtestConfig, store: ResultsStore, progress: Progress | None = None,
                 *, run_id: str | None = None, cancel: threading.Event | None = None
                 ) -> dict[str, Any]:
    """Runs ``config`` against its target, stores the run in ``store``, returns the summary."""
    config.validate()
    if importlib.util.find_spec("locust") is None:
        raise ConfigError("load tests need Locust: pip install 'flowllama[loadtest]'")
    run_id = run_id or new_run_id()
    with tempfile.TemporaryDirectory(prefix="flowllama-loadtest-") as tmp:
        workdir = Path(tmp)
        _run_worker(config, run_id, workdir, progress, cancel)
        summary: dict[str, Any] = json.loads((workdir / "summary.json").read_text())
        files = {name: workdir / name for name in RUN_FILES if (workdir / name).is_file()}
        store.write_run(config.target_name, run_id, files, summary)
    return summary


def _run_worker(config: LoadtestConfig, run_id: str, workdir: Path,
                progress: Progress | None, cancel: threading.Event | None) -> None:
    log_path = workdir / "worker.log"
    request = json.dumps({"config": config.to_json(), "run_id": run_id})
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own module, an argument list, no shell
            [sys.executable, "-m", "flowllama.loadtest.worker", str(workdir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        watchdog = threading.Timer(config.duration_s + GRACE_S, process.kill)
        watchdog.start()
        try:
            done = _follow(process, request, progress, cancel)
            code = process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:  # interrupted: stop the child, store nothing
                process.kill()
                process.wait()
    if code != 0 or not done:
        tail = log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        raise LoadtestFailed(f"the load-test worker exited with {code}:\n{tail}")


def _follow(process: subprocess.Popen[str], request: str, progress: Progress | None,
            cancel: threading.Event | None) -> bool:
    """Sends the request, relays progress lines; True once the worker said it is done.
    Checked at every line (about once a second): ``cancel`` raises :class:`LoadtestCancelled`
    (the caller's ``finally`` stops the worker)."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(request)
    process.stdin.close()
    for line in process.stdout:
        if cancel is not None and cancel.is_set():
            raise LoadtestCancelled("the load test was cancelled")
        try:
            event = json.loads(line)
        except ValueError:
            continue  # not ours (a library printing to stdout)
        if event.get("event") == "done":
            return True
        if event.get("event") == "progress" and progress is not None:
            progress({k: v for k, v in event.items() if k != "event"})
    return False
