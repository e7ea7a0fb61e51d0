"""Benchmark the optimizer over the whole catalog: every model x a few contexts x tolerances.

Scenarios, measured in one run on one machine:
  cold         every per-process cache emptied before each estimate (parse the price snapshot,
               build the index, size the model): the first request of a fresh process
  warm         index built; each request estimated for the first time (sizing computed)
  warm-repeat  the same requests again (sizing cached): a busy API's steady state
  baseline     a straightforward scan of every price row per request, no index (warm)

Run: python bench/optimizer.py [--cold-samples 20]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from flowllama.catalog import models, offers, optimizer, prices, refresh, sizing
from flowllama.catalog.gpus import GPU_TYPES
from flowllama.catalog.optimizer import EstimateRequest, estimate

CONTEXTS = (2048, 8192, 32768)
TOLERANCES = ("none", "low", "high")


def requests() -> list[EstimateRequest]:
    """All models x contexts (up to each model's maximum) x spot tolerances, GPU auto."""
    found = []
    for model in models.default_catalog().all():
        for context in CONTEXTS:
            if context <= model.architecture.context_length:
                found.extend(EstimateRequest(model=model.name, context_size=context,
                                             spot_tolerance=tolerance)
                             for tolerance in TOLERANCES)
    return found


def clear_caches() -> None:
    refresh.clear_cache()
    prices.load_snapshot.cache_clear()
    models.default_catalog.cache_clear()
    offers.build_index.cache_clear()
    optimizer._sizing.cache_clear()
    sizing._fits.cache_clear()


def baseline(request: EstimateRequest) -> list[tuple[Any, ...]]:
    """The obvious implementation: size, then scan and sort every price row."""
    model = models.default_catalog().get(request.model)
    need = sizing.estimate_memory(model, context_size=request.context_size or 8192)
    options = []
    for row in prices.load_snapshot().rows:
        if row.gpu not in GPU_TYPES or not need.fits(row.gpu_memory_mib * 1024**2,
                                                     row.gpu_count):
            continue
        fixed = offers.fixed_monthly(row.cloud, need.breakdown.weights_bytes)
        for spot, hourly in ((False, row.on_demand), (True, row.spot)):
            if hourly is not None and (spot is False or request.spot_tolerance != "none"):
                options.append((hourly * 730 + fixed.disk + fixed.egress, row.instance_type,
                                row.region, spot))
    options.sort()
    seen: dict[tuple[str, str], tuple[Any, ...]] = {}
    for option in options:
        seen.setdefault(option[1:3], option)
        if len(seen) == optimizer.MAX_CANDIDATES:
            break
    return list(seen.values())


def measure(calls: list[Callable[[], object]], before: Callable[[], None] | None = None
            ) -> list[float]:
    timings = []
    for call in calls:
        if before:
            before()
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return timings


def row(name: str, timings: list[float]) -> str:
    ms = sorted(t * 1000 for t in timings)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    rate = len(ms) / (sum(ms) / 1000)
    return (f"| {name} | {len(ms)} | {rate:,.0f} | {statistics.median(ms):.2f} | {p95:.2f} "
            f"| {ms[-1]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cold-samples", type=int, default=20)
    args = parser.parse_args()
    batch = requests()
    snapshot_rows = len(prices.load_snapshot().rows)
    cold_batch = batch[:: max(1, len(batch) // args.cold_samples)][: args.cold_samples]
    cold = measure([lambda r=r: estimate(r) for r in cold_batch], before=clear_caches)
    clear_caches()
    estimate(batch[0])  # load the snapshot and build the index once
    optimizer._sizing.cache_clear()
    sizing._fits.cache_clear()
    warm = measure([lambda r=r: estimate(r) for r in batch])
    repeat = measure([lambda r=r: estimate(r) for r in batch])
    base = measure([lambda r=r: baseline(r) for r in batch])
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{snapshot_rows} price rows, {len(batch)} requests "
          f"({len(models.default_catalog())} models x {CONTEXTS} x {TOLERANCES})")
    print("| scenario | estimates | estimates/s | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, timings in (("cold", cold), ("warm", warm), ("warm-repeat", repeat),
                          ("baseline (full scan)", base)):
        print(row(name, timings))


if __name__ == "__main__":
    main()
