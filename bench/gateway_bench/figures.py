"""The derived figures: issue 7's (added p50 and time to first token over ``direct`` at c=1,
gateway over LiteLLM at c=16) and issue 17's (the body validation's cost, this tree against
``gateway@REF``, two gateway processes against one); and the tables printed without ``--json``."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from .harness import BODY


def validation_cpu_us(repeats: int = 50_000) -> float:
    """CPU µs the ``/v1`` body check adds to one bench request over decoding the JSON alone
    (what the gateway did before), measured in this process: steadier than comparing two
    servers on a busy host. Negative when checking is cheaper than ``json.loads``."""
    from flowllama.gateway.requests import parse

    raw = json.dumps(BODY).encode()
    costs = []
    for work in (lambda: parse(raw, "messages"), lambda: json.loads(raw)) * 3:
        started = time.process_time()
        for _ in range(repeats):
            work()
        costs.append((time.process_time() - started) / repeats * 1e6)
    return statistics.median(costs[0::2]) - statistics.median(costs[1::2])


def _issue_17_figures(table: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    """This tree's gateway against ``gateway@REF`` (CPU per request and req/s, each case),
    the validation's own CPU per request against the gateway's, and two gateway processes
    against one (req/s at c=16)."""
    validation = validation_cpu_us()
    share = validation / table["chat c=16"]["gateway"]["cpu_us"]
    rows: list[dict[str, Any]] = [
        {"figure": "validation CPU µs/req (in-process)", "path": "gateway",
         "value": validation, "unit": "µs", "target": None, "met": None},
        {"figure": "validation / gateway CPU per request, chat c=16", "path": "gateway",
         "value": 1 + share, "unit": "x", "target": "< 1.05x", "met": share < 0.05}]
    baseline = next((name for name in table["chat c=1"] if name.startswith("gateway@")), None)
    for case, paths in table.items():
        if baseline is None:
            break
        cpu = paths["gateway"]["cpu_us"] / paths[baseline]["cpu_us"]
        rows.append({"figure": f"CPU/req gateway / {baseline}, {case}", "path": "gateway",
                     "value": cpu, "unit": "x", "target": "< 1.05x", "met": cpu < 1.05})
        rps = paths["gateway"]["rps"] / paths[baseline]["rps"]
        rows.append({"figure": f"req/s gateway / {baseline}, {case}", "path": "gateway",
                     "value": rps, "unit": "x", "target": None, "met": None})
    for case, paths in table.items():
        if "gateway x2" in paths:
            rows.append({"figure": f"req/s gateway x2 / gateway x1, {case}", "path": "gateway x2",
                         "value": paths["gateway x2"]["rps"] / paths["gateway x1"]["rps"],
                         "unit": "x", "target": None, "met": None})
    return rows


def derived(table: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    """Issue 7's figures (added p50 and TTFT over direct at c=1, gateway/LiteLLM at c=16) and
    issue 17's (:func:`_issue_17_figures`)."""
    rows: list[dict[str, Any]] = _issue_17_figures(table)
    for path in ("gateway", "litellm"):
        if path not in table["chat c=1"]:
            continue
        gateway = path == "gateway"
        added = table["chat c=1"][path]["p50_ms"] - table["chat c=1"]["direct"]["p50_ms"]
        rows.append({"figure": "added p50, chat c=1", "path": path, "value": added, "unit": "ms",
                     "target": "< 1 ms" if gateway else None,
                     "met": added < 1 if gateway else None})
        stream = table["stream c=1"]
        added = stream[path]["ttft_ms"] - stream["direct"]["ttft_ms"]
        rows.append({"figure": "added TTFT, stream c=1", "path": path, "value": added,
                     "unit": "ms", "target": "< 1 ms" if gateway else None,
                     "met": added < 1 if gateway else None})
    if "litellm" in table["chat c=16"]:
        c16 = table["chat c=16"]
        ratio = c16["gateway"]["rps"] / c16["litellm"]["rps"]
        rows.append({"figure": "req/s gateway / litellm, chat c=16", "path": "gateway",
                     "value": ratio, "unit": "x", "target": ">= 10x", "met": ratio >= 10})
    return rows


def print_tables(table: dict[str, dict[str, dict[str, float]]],
                 figures: list[dict[str, Any]], rounds: int) -> None:
    """The median table and the derived figures, as rich tables on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    main = Table("case", "path", "req/s", "p50 ms", "p99 ms", "TTFT ms", "server CPU µs/req",
                 title=f"median of {rounds} round(s)")
    for case, paths in table.items():
        for name, r in paths.items():
            ttft = f"{r['ttft_ms']:.2f}" if "ttft_ms" in r else ""
            main.add_row(case, name, f"{r['rps']:,.0f}", f"{r['p50_ms']:.2f}",
                         f"{r['p99_ms']:.2f}", ttft, f"{r['cpu_us']:,.0f}")
    console.print(main)
    extra = Table("figure", "path", "value", "target", "met")
    for row in figures:
        value = f"{row['value']:.2f} {row['unit']}" if row["unit"] != "x" else \
            f"{row['value']:.3f}x"
        met = "" if row["met"] is None else ("met" if row["met"] else "NOT met")
        extra.add_row(row["figure"], row["path"], value, row["target"] or "", met)
    console.print(extra)
