"""The measurement: every case on every path, round by round, with each server's CPU time per
request; and the median of each figure over the rounds."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from pathlib import Path

from .harness import BODY
from .load import StreamClient, Target, wrk, wrk_script


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and every process below it, so far (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue  # exited meanwhile
    return total


CASES = [("chat c=1", 1, False), ("chat c=16", 16, False), ("stream c=1", 1, True)]
Results = dict[str, dict[str, list[dict[str, float]]]]  # case -> path -> one result per round


def _run_case(target: Target, script: Path, concurrency: int, stream: bool, seconds: int
              ) -> dict[str, float]:
    """One measurement, with the server's CPU time per request (steadier than latency on a
    shared machine: it does not count time spent waiting to be scheduled)."""
    before = cpu_seconds(target.pid)
    result = StreamClient(target).run(seconds) if stream else \
        wrk(target, script, concurrency, seconds)
    requests = result["rps"] * seconds
    result["cpu_us"] = (cpu_seconds(target.pid) - before) * 1e6 / requests if requests else 0.0
    return result


def _warm_up(targets: list[Target], scripts: dict[str, Path]) -> None:
    """Exercise each path briefly in every case (connection pools, caches, lazy imports)."""
    for target in targets:
        for _case, concurrency, stream in CASES:
            if stream:
                StreamClient(target).run(0.5)
            else:  # wrk counts whole seconds only
                wrk(target, scripts[target.name], concurrency, 1)


def measure(targets: list[Target], seconds: int, rounds: int, tmp: Path,
            progress: Callable[[str], None]) -> Results:
    """Every case on every path, ``rounds`` times; paths interleaved within each round, in
    reverse order every other round (so no path always runs right after another)."""
    scripts = {t.name: wrk_script(t, BODY, tmp) for t in targets}
    _warm_up(targets, scripts)
    results: Results = {case: {t.name: [] for t in targets} for case, _c, _s in CASES}
    for number in range(1, rounds + 1):
        for case, concurrency, stream in CASES:
            for target in targets if number % 2 else targets[::-1]:
                progress(f"round {number}/{rounds}: {case}, {target.name}")
                results[case][target.name].append(
                    _run_case(target, scripts[target.name], concurrency, stream, seconds))
    return results


def medians(results: Results) -> dict[str, dict[str, dict[str, float]]]:
    """Each figure's median over the rounds."""
    return {case: {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                   for name, runs in paths.items()}
            for case, paths in results.items()}
