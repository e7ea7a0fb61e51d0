"""The dashboard's HTML: one target's trends, regression flags, latest run and run list.

Every text from a summary is escaped; the markup has no script and no ``style`` attribute,
so the web UI can place it in its page under its content security policy. Work is linear in
runs, endpoints and figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any

from flowllama.loadtest.dashboard.charts import line_chart
from flowllama.loadtest.dashboard.figures import (
    Figure,
    Summary,
    Trend,
    block,
    endpoint_trends,
    error_rate,
    total_trends,
)

RAW_FILES = ("summary.json", "stats.csv", "stats_history.csv", "failures.csv",
             "exceptions.csv")
FileHref = Callable[[str, str], str]
"""``(run_id, file name) -> href`` of a raw file."""


@dataclass(frozen=True)
class Run:
    run_id: str
    summary: Summary


def show(value: float | None, unit: str) -> str:
    """A figure for people: units, "free" for a zero price, "—" when unknown."""
    if value is None:
        return "—"
    if unit == "$":
        return "free" if value == 0 else f"${value:,.2f}"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    return f"{value:,.2f} {unit}"


def target_html(title: str, runs: list[Run], file_href: FileHref, margin: float) -> str:
    """One target's dashboard over ``runs`` (oldest first)."""
    if not runs:
        return empty_html("No load-test results yet",
                          "Run a load test: its trends, latest figures and raw files "
                          "appear here when it finishes.")
    summaries = [run.summary for run in runs]
    labels = [run.run_id for run in runs]
    totals = total_trends(summaries, margin)
    endpoints = endpoint_trends(summaries, margin)
    flags = [("all endpoints", t) for t in totals if t.regression] + [
        (e.name, t) for e in endpoints for t in e.trends if t.regression]
    parts = [f'<section class="lt" aria-label="Load tests of {escape(title)}">',
             f'<h2>Load tests · {escape(title)}</h2>', _flags_html(flags, margin),
             '<h3>Totals</h3><div class="lt-grid">',
             *(_chart(t, labels) for t in totals), "</div>",
             _latest_html(runs[-1]), "<h3>Trends per endpoint</h3>"]
    for endpoint in endpoints:
        parts.append(f'<details class="lt-endpoint" open><summary>{escape(endpoint.name)}'
                     f'{" · LLM" if endpoint.llm else ""}</summary><div class="lt-grid">')
        parts.extend(_chart(t, labels) for t in endpoint.trends)
        parts.append("</div></details>")
    parts.append(_runs_table(runs, file_href))
    parts.append("</section>")
    return "".join(parts)


def empty_html(heading: str, text: str) -> str:
    return (f'<section class="lt lt-empty"><h2>{escape(heading)}</h2>'
            f'<p class="muted">{escape(text)}</p></section>')


def _flags_html(flags: list[tuple[str, Trend]], margin: float) -> str:
    if not flags:
        return (f'<p class="lt-ok">No regression: the latest run is within '
                f'{margin * 100:.0f} % of the median of the previous runs.</p>')
    items = "".join(f"<li>{escape(where)}: {escape(t.figure.label)} "
                    f"{escape(show(t.values[-1], t.figure.unit))}</li>" for where, t in flags)
    return (f'<div class="lt-alert" role="alert"><strong>Regression</strong> in the latest '
            f'run (worse than the median of the previous runs by more than '
            f'{margin * 100:.0f} %):<ul>{items}</ul></div>')


def _chart(trend: Trend, labels: list[str]) -> str:
    figure = trend.figure
    flag = ' <span class="lt-flag">regression</span>' if trend.regression else ""
    css = "lt-card lt-regressed" if trend.regression else "lt-card"
    latest = show(trend.values[-1], figure.unit)
    chart = line_chart(_scaled(trend.values, figure), labels, figure.label,
                       flagged=trend.regression)
    return (f'<figure class="{css}"><figcaption>{escape(figure.label)}: '
            f'<b>{escape(latest)}</b>{flag}</figcaption>'
            f"{chart}"
            "</figure>")


def _scaled(values: list[float | None], figure: Figure) -> list[float | None]:
    return [v * 100 if v is not None and figure.unit == "%" else v for v in values]


COLUMNS = (("requests", "Requests", ""), ("failures", "Failures", ""), ("rps", "req/s", ""),
           ("latency_ms.p50", "p50", "ms"), ("latency_ms.p95", "p95", "ms"),
           ("latency_ms.p99", "p99", "ms"), ("ttft_ms.p50", "TTFT p50", "ms"),
           ("ttft_ms.p95", "TTFT p95", "ms"), ("itl_ms.p50", "ITL p50", "ms"),
           ("tpot_ms.p50", "TPOT p50", "ms"), ("output_tokens_per_s", "tok/s", ""),
           ("goodput_ratio", "goodput", "%"))


def _get(row: dict[str, Any], path: str) -> float | None:
    head, _, tail = path.partition(".")
    value = row.get(head)
    if tail:
        value = value.get(tail) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _latest_html(run: Run) -> str:
    summary = run.summary
    settings, price, totals = (block(summary, key) for key in ("settings", "price", "totals"))
    facts = [("Run", run.run_id), ("Started", str(summary.get("started_at", "—"))),
             ("Duration", f"{settings.get('duration_s', '—')} s"),
             ("Users", str(settings.get("users", "—"))),
             ("Error rate", show(error_rate(totals), "%")),
             ("$ per 1M output tokens", show(_get(totals, "usd_per_million_output_tokens"), "$")),
             ("Price", _price(_get(price, "usd_per_hour"), price.get("source")))]
    head = "".join(f"<th scope='col'>{escape(label)}</th>" for _, label, _ in COLUMNS)
    rows = []
    for endpoint in summary.get("endpoints") or []:
        if not isinstance(endpoint, dict):
            continue
        cells = "".join(f"<td>{escape(_cell(_get(endpoint, key), unit))}</td>"
                        for key, _, unit in COLUMNS)
        rows.append(f"<tr><th scope='row'>{escape(str(endpoint.get('name')))}</th>{cells}</tr>")
    dl = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return (f'<h3>Latest run</h3><dl class="lt-facts">{dl}</dl><div class="lt-scroll">'
            f'<table class="lt-table"><thead><tr><th scope="col">Endpoint</th>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def _price(usd_per_hour: float | None, source: Any) -> str:
    hourly = "—" if usd_per_hour is None else f"${usd_per_hour:,.2f}/h"
    return f"{hourly} ({source})" if source else hourly


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value * 100:.0f} %"
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"


def _runs_table(runs: list[Run], file_href: FileHref) -> str:
    rows = []
    for run in reversed(runs):
        totals = block(run.summary, "totals")
        links = " ".join(f'<a href="{escape(file_href(run.run_id, name))}" '
                         f'data-loadtest-file="{escape(name)}">{escape(name)}</a>'
                         for name in RAW_FILES)
        rows.append(
            f"<tr><td>{escape(run.run_id)}</td>"
            f"<td>{escape(_cell(_get(totals, 'requests'), ''))}</td>"
            f"<td>{escape(show(error_rate(totals), '%'))}</td>"
            f"<td>{escape(show(_get(totals, 'output_tokens_per_s'), 'tok/s'))}</td>"
            f"<td>{escape(show(_get(totals, 'usd_per_million_output_tokens'), '$'))}</td>"
            f'<td class="lt-files">{links}</td></tr>')
    return ('<h3>Runs</h3><div class="lt-scroll"><table class="lt-table"><thead><tr>'
            '<th scope="col">Run</th><th scope="col">Requests</th><th scope="col">Errors</th>'
            '<th scope="col">Tokens/s</th><th scope="col">$/1M tokens</th>'
            f'<th scope="col">Raw files</th></tr></thead><tbody>{"".join(rows)}</tbody>'
            "</table></div>")


def page(title: str, body: str, css_hrefs: tuple[str, ...]) -> str:
    """A whole page around ``body`` (``serve dashboard``)."""
    links = "".join(f'<link rel="stylesheet" href="{escape(href)}">' for href in css_hrefs)
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><link rel="icon" href="data:,">'
            f'{links}</head><body>'
            '<header class="top"><div class="bar"><a class="brand" href="/dashboard/">'
            'FlowLlama load tests</a></div></header>'
            f'<main id="main" class="lt-main">{body}</main></body></html>')
