"""Benchmark the load-test dashboard: read N stored runs from a file store and render one
target's page, for N = 50 (the default trend length, the baseline), 100 and 500.

Reports the median of a few repetitions for reading (``load_runs``) and rendering
(``target_html``), per run and as a ratio to the baseline: linear work keeps the per-run cost
flat as N grows.

Run: python bench/loadtest_dashboard.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowllama.loadtest.dashboard.render import target_html
from flowllama.loadtest.dashboard.source import load_runs
from flowllama.loadtest.store import FileStore, new_run_id

SIZES = (50, 100, 500)


def _summary(run_id: str, i: int) -> dict[str, Any]:
    pct = {"p50": 100.0 + i % 7, "p90": 150.0, "p95": 180.0, "p99": 250.0}
    llm = {"name": "POST /v1/chat/completions (stream)", "llm": True, "requests": 100,
           "failures": i % 3, "rps": 1.5, "latency_ms": pct, "ttft_ms": pct, "itl_ms": pct,
           "tpot_ms": pct, "output_tokens_per_s": 40.0 + i % 5}
    plain = {"name": "GET /v1/models", "llm": False, "requests": 100, "failures": 0,
             "rps": 1.6, "latency_ms": pct}
    return {"schema_version": 1, "run_id": run_id, "target": {"name": "bench"},
            "settings": {"duration_s": 60, "users": 2}, "price": {"usd_per_hour": 1.0},
            "endpoints": [plain, llm],
            "totals": {"requests": 200, "failures": i % 3, "output_tokens_per_s": 40.0,
                       "usd_per_million_output_tokens": 6.9}}


def _store(root: Path, count: int) -> FileStore:
    store = FileStore(root)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        run_id = new_run_id(start + timedelta(hours=i))
        store.write_run("bench", run_id, {}, _summary(run_id, i))
    return store


def _median_s(repeat: int, work: Any) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp), max(SIZES))
        rows = []
        for size in SIZES:
            refs = store.list_runs("bench", limit=size)
            read = _median_s(args.repeat, lambda refs=refs: load_runs(store, refs))
            runs = load_runs(store, refs)
            render = _median_s(args.repeat, lambda runs=runs: target_html("bench", runs,
                                                                          lambda r, n: n, 0.2))
            rows.append((size, read, render))
    base = rows[0]
    print("| runs | read ms | render ms | read ms/run | render ms/run | render ratio to 50 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size, read, render in rows:
        print(f"| {size} | {read * 1000:.1f} | {render * 1000:.1f} | {read * 1000 / size:.3f} "
              f"| {render * 1000 / size:.3f} | {render / base[2]:.1f}x |")


if __name__ == "__main__":
    main()
