"""The figures a dashboard trends, read from ``summary.json`` (schema 1), and the regression
rule: the latest run is flagged when a figure is worse than the median of the previous runs
by more than the configured margin (``FLOWLLAMA_LOADTEST__REGRESSION_MARGIN``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

Summary = dict[str, Any]
Endpoint = dict[str, Any]

# Previous runs a median needs before the latest one may be flagged.
MIN_HISTORY = 2


@dataclass(frozen=True)
class Figure:
    """One trended number of an endpoint (or of the run's totals)."""

    key: str
    label: str
    unit: str
    read: Callable[[Endpoint], float | None]
    higher_is_better: bool = False
    llm_only: bool = False
    # An absolute change below this never counts (an error rate going 0 → 0.1 %).
    floor: float = 0.0


def block(summary: Summary, key: str) -> dict[str, Any]:
    """``summary[key]`` when it is an object, else an empty one."""
    value = summary.get(key)
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _pct(group: str, key: str) -> Callable[[Endpoint], float | None]:
    def read(endpoint: Endpoint) -> float | None:
        return _number(block(endpoint, group).get(key))
    return read


def _field(key: str) -> Callable[[Endpoint], float | None]:
    return lambda endpoint: _number(endpoint.get(key))


def error_rate(endpoint: Endpoint) -> float | None:
    """Failures over requests (``error_rate`` itself when the block carries it)."""
    if "error_rate" in endpoint:
        return _number(endpoint["error_rate"])
    requests, failures = _number(endpoint.get("requests")), _number(endpoint.get("failures"))
    if not requests or failures is None:
        return None
    return failures / requests


ENDPOINT_FIGURES = (
    Figure("p50", "p50 latency", "ms", _pct("latency_ms", "p50")),
    Figure("p95", "p95 latency", "ms", _pct("latency_ms", "p95")),
    Figure("p99", "p99 latency", "ms", _pct("latency_ms", "p99")),
    Figure("rps", "requests/s", "req/s", _field("rps"), higher_is_better=True),
    Figure("errors", "error rate", "%", error_rate, floor=0.01),
    Figure("ttft", "TTFT p50", "ms", _pct("ttft_ms", "p50"), llm_only=True),
    Figure("ttft95", "TTFT p95", "ms", _pct("ttft_ms", "p95"), llm_only=True),
    Figure("itl", "ITL p50", "ms", _pct("itl_ms", "p50"), llm_only=True),
    Figure("tps", "output tokens/s", "tok/s", _field("output_tokens_per_s"),
           higher_is_better=True, llm_only=True),
)
TOTAL_FIGURES = (
    Figure("tps", "output tokens/s", "tok/s", _field("output_tokens_per_s"),
           higher_is_better=True),
    Figure("usd", "$ per 1M output tokens", "$", _field("usd_per_million_output_tokens")),
    Figure("errors", "error rate", "%", error_rate, floor=0.01),
)


def regressed(figure: Figure, values: list[float | None], margin: float) -> bool:
    """Whether the last of ``values`` (oldest first) is worse than the median of the ones
    before it by more than ``margin`` (a fraction: 0.2 = 20 %)."""
    if not values or values[-1] is None:
        return False
    history = [v for v in values[:-1] if v is not None]
    if len(history) < MIN_HISTORY:
        return False
    latest, middle = values[-1], median(history)
    change = middle - latest if figure.higher_is_better else latest - middle
    return change > max(abs(middle) * margin, figure.floor)


@dataclass
class Trend:
    """One figure of one endpoint over the runs shown (oldest first)."""

    figure: Figure
    values: list[float | None]
    regression: bool


@dataclass
class EndpointTrends:
    name: str
    llm: bool
    trends: list[Trend]


def endpoint_trends(summaries: list[Summary], margin: float) -> list[EndpointTrends]:
    """Per endpoint (in the latest run's order, then older ones), its figures' trends."""
    names: dict[str, bool] = {}
    for summary in reversed(summaries):
        for endpoint in _endpoints(summary).values():
            names.setdefault(str(endpoint.get("name")), bool(endpoint.get("llm")))
    out = []
    for name, llm in names.items():
        rows = [_endpoints(summary).get(name) for summary in summaries]
        trends = []
        for figure in ENDPOINT_FIGURES:
            if figure.llm_only and not llm:
                continue
            values = [figure.read(row) if row is not None else None for row in rows]
            trends.append(Trend(figure, values, regressed(figure, values, margin)))
        out.append(EndpointTrends(name, llm, trends))
    return out


def total_trends(summaries: list[Summary], margin: float) -> list[Trend]:
    """The run totals' figures over the runs (oldest first)."""
    rows = [block(summary, "totals") for summary in summaries]
    trends = []
    for figure in TOTAL_FIGURES:
        values = [figure.read(row) for row in rows]
        trends.append(Trend(figure, values, regressed(figure, values, margin)))
    return trends


def _endpoints(summary: Summary) -> dict[str, Endpoint]:
    endpoints = summary.get("endpoints")
    if not isinstance(endpoints, list):
        return {}
    return {str(e.get("name")): e for e in endpoints if isinstance(e, dict)}
