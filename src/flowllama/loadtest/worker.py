"""The load-test worker process: ``python -m flowllama.loadtest.worker WORKDIR``.

Locust monkey-patches the whole process for gevent when imported, which must happen before
anything opens a socket or imports ssl; so Locust runs here, in a process of its own, never in
the CLI's or the API's. Input: one JSON object on stdin, ``{"config": LoadtestConfig.to_json(),
"run_id": str}``. Output: one JSON line per second on stdout (``{"event": "progress", ...}``),
then ``{"event": "done"}``; in WORKDIR the Locust CSVs (``stats.csv``, ``stats_history.csv``,
``failures.csv``, ``exceptions.csv``), ``llm_requests.csv`` (one row per LLM request) and
``summary.json``. The caller (:mod:`flowllama.loadtest.runner`) stores them.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
import locust  # patches the process for gevent: before any socket, ssl or thread use
from locust.env import Environment
from locust.runners import LocalRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter, stats_history

from flowllama.loadtest.config import LoadtestConfig
from flowllama.loadtest.locustfile import ENDPOINTS, user_classes
from flowllama.loadtest.measures import PERCENTILES, LlmSample
from flowllama.loadtest.summary import EndpointCounts, build_summary

CSV_NAMES = {"locust_stats.csv": "stats.csv", "locust_stats_history.csv": "stats_history.csv",
             "locust_failures.csv": "failures.csv", "locust_exceptions.csv": "exceptions.csv"}
SAMPLES_CSV = "llm_requests.csv"
_ = locust.__version__


def emit(event: dict[str, Any]) -> None:
    """One JSON line to the parent."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def run(config: LoadtestConfig, run_id: str, workdir: Path) -> dict[str, Any]:
    """Runs Locust headless for ``config.duration_s``; writes the files; returns the summary."""
    samples: list[LlmSample] = []
    env = Environment(user_classes=user_classes(config, samples))
    runner = env.create_local_runner()
    writer = StatsCSVFileWriter(env, PERCENTILES_TO_REPORT, str(workdir / "locust"),
                                full_history=True)
    background = [gevent.spawn(stats_history, runner), gevent.spawn(writer)]
    started, t0 = datetime.now(UTC), time.monotonic()
    runner.start(config.users, spawn_rate=config.spawn_rate)
    while (elapsed := time.monotonic() - t0) < config.duration_s:
        gevent.sleep(min(1.0, config.duration_s - elapsed))
        emit(_progress(runner, samples, time.monotonic() - t0, config.duration_s))
    runner.quit()
    ended = datetime.now(UTC)
    gevent.sleep(1.2)  # the CSV writer's next pass (every second) writes the final counts
    gevent.killall(background)
    writer.close_files()
    for locust_name, name in CSV_NAMES.items():
        (workdir / locust_name).rename(workdir / name)
    _write_samples(workdir / SAMPLES_CSV, samples)
    return build_summary(config, run_id, started=started, ended=ended,
                         counts=_counts(runner), samples=samples)


def _progress(runner: LocalRunner, samples: list[LlmSample], elapsed: float, duration: float
              ) -> dict[str, Any]:
    total = runner.stats.total
    return {"event": "progress", "elapsed_s": round(elapsed, 1), "duration_s": duration,
            "users": runner.user_count, "requests": total.num_requests,
            "failures": total.num_failures, "rps": round(total.current_rps, 2),
            "output_tokens": sum(s.output_tokens for s in samples)}


def _counts(runner: LocalRunner) -> list[EndpointCounts]:
    rows = []
    for (name, _method), entry in sorted(runner.stats.entries.items()):
        group, llm = ENDPOINTS.get(name, ("other", False))
        latency = {label: float(entry.get_response_time_percentile(q))
                   for label, q in PERCENTILES}
        rows.append(EndpointCounts(name, group, llm, entry.num_requests, entry.num_failures,
                                   dict(latency)))
    return rows


def _write_samples(path: Path, samples: list[LlmSample]) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["name", "e2e_ms", "ttft_ms", "tpot_ms", "output_tokens",
                      "output_tokens_per_s", "itl_count", "itl_mean_ms"])
        for s in samples:
            itl_mean = sum(s.itl_ms) / len(s.itl_ms) if s.itl_ms else None
            out.writerow([s.name, _cell(s.e2e_ms), _cell(s.ttft_ms), _cell(s.tpot_ms),
                          s.output_tokens, _cell(s.tokens_per_s), len(s.itl_ms),
                          _cell(itl_mean)])


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def main(argv: list[str]) -> int:
    workdir = Path(argv[1])
    request = json.loads(sys.stdin.read())
    config = LoadtestConfig.from_json(request["config"])
    summary = run(config, request["run_id"], workdir)
    (workdir / "summary.json").write_text(json.dumps(summary, allow_nan=False))
    emit({"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
