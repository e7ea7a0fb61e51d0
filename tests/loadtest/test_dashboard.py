"""The dashboard's figures and HTML: the regression rule (median of the previous runs, margin,
direction, too little history), "free" for a zero price, escaping of summary text, summaries
with missing or odd fields, the empty state, and 500 runs rendered in one pass."""

from __future__ import annotations

import re
from typing import Any

from flowllama.loadtest.dashboard.figures import ENDPOINT_FIGURES, TOTAL_FIGURES, regressed
from flowllama.loadtest.dashboard.render import Run, show, target_html
from loadtest_runs import summary

P95 = next(f for f in ENDPOINT_FIGURES if f.key == "p95")
TPS = next(f for f in TOTAL_FIGURES if f.key == "tps")
ERRORS = next(f for f in TOTAL_FIGURES if f.key == "errors")


def _href(run_id: str, name: str) -> str:
    return f"/files/{run_id}/{name}"


def test_regression_is_against_the_median_of_previous_runs_by_the_margin() -> None:
    assert regressed(P95, [100, 100, 500, 100, 119], 0.2) is False  # median 100, +19 %
    assert regressed(P95, [100, 100, 500, 100, 121], 0.2) is True   # +21 %
    assert regressed(TPS, [50, 50, 39], 0.2) is True                # lower is worse here
    assert regressed(TPS, [50, 50, 400], 0.2) is False              # faster is never flagged
    assert regressed(P95, [100, 900], 0.2) is False                 # one previous run: no flag
    assert regressed(P95, [100, 100, None], 0.2) is False           # latest missing
    assert regressed(ERRORS, [0, 0, 0.005], 0.2) is False           # under one point
    assert regressed(ERRORS, [0, 0, 0.05], 0.2) is True


def test_the_page_flags_a_slow_run_shows_free_and_escapes_text() -> None:
    runs = [Run(f"20261201T0{i}0000Z-0000000{i}", summary("chat", "r", latency_ms=100))
            for i in range(4)]
    slow = summary("<b>chat</b>", "r", latency_ms=300)
    slow["endpoints"][0]["name"] = "GET /<script>alert(1)</script>"
    runs.append(Run("20261201T050000Z-00000005", slow))
    html = target_html("<b>chat</b>", runs, _href, 0.2)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>chat</b>" not in html
    assert 'role="alert"' in html and html.count("lt-flag") >= 3
    assert "free" in html and "style=" not in html
    steady = target_html("chat", runs[:4], _href, 0.2)
    assert "No regression" in steady and 'role="alert"' not in steady


def test_odd_summaries_render_with_dashes_not_errors() -> None:
    odd: list[dict[str, Any]] = [{}, {"endpoints": "nope", "totals": None},
                                 {"endpoints": [{"name": "x", "latency_ms": {"p50": "fast"}},
                                                "junk"], "totals": {"requests": True}}]
    html = target_html("t", [Run(f"20261201T0{i}0000Z-0000000{i}", s)
                             for i, s in enumerate(odd)], _href, 0.2)
    assert "no data" in html and "—" in html
    assert show(None, "$") == "—" and show(0.0, "$") == "free" and show(1.5, "$") == "$1.50"


def test_no_runs_is_a_clear_empty_state() -> None:
    assert "No load-test results yet" in target_html("t", [], _href, 0.2)


def test_five_hundred_runs_render_every_point_once() -> None:
    runs = [Run(f"2026120{1 + i // 100}T{i % 24:02d}0000Z-{i:08x}",
                summary("chat", "r", latency_ms=100 + i % 7)) for i in range(500)]
    html = target_html("chat", runs, _href, 0.2)
    charts = html.count("<svg")
    assert charts == 3 + 5 + 9  # totals, the plain endpoint, the LLM endpoint
    assert len(re.findall(r"<circle", html)) == charts * 500
    assert html.count("<tr>") == 500 + 2 + 2  # runs, latest run's endpoints, two heads
