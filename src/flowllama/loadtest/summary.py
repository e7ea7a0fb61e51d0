"""``summary.json`` (schema version 1) of a finished run, from Locust's per-endpoint counts
and the LLM samples. The schema is a contract (docs/loadtest.md): the dashboard, the API and
the Helm CronJob's consumers read it. Any figure that cannot be computed is ``null``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowllama.loadtest.config import LoadtestConfig
from flowllama.loadtest.measures import (
    LlmSample,
    finite,
    llm_figures,
    usd_per_million_tokens,
)

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class EndpointCounts:
    """What Locust counted for one endpoint: requests (failures included), failures, and
    response-time percentiles in ms (for a stream: time to the response headers)."""

    name: str
    group: str
    llm: bool
    requests: int
    failures: int
    latency_ms: dict[str, float | None]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_summary(config: LoadtestConfig, run_id: str, *, started: datetime,
                  ended: datetime, counts: Sequence[EndpointCounts], samples: Sequence[LlmSample]
                  ) -> dict[str, Any]:
    """The run's summary; rates are over the run's wall time from ``started`` to ``ended``."""
    duration_s = max((ended - started).total_seconds(), 0.001)
    endpoints = [_endpoint(config, row, [s for s in samples if s.name == row.name], duration_s)
                 for row in counts]
    requests = sum(row.requests for row in counts)
    failures = sum(row.failures for row in counts)
    tokens = sum(s.output_tokens for s in samples)
    tokens_per_s = finite(tokens / duration_s)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "target": {"name": config.target_name, "api_url": config.api_url,
                   "ollama_url": config.ollama_url, "token_api_url": config.token_api_url,
                   "model": config.model},
        "started_at": iso(started), "ended_at": iso(ended),
        "settings": {"duration_s": _number(config.duration_s), "users": config.users,
                     "spawn_rate": _number(config.spawn_rate), "weights": config.active_weights(),
                     "max_tokens": config.max_tokens, "ttft_target_ms": config.ttft_target_ms,
                     "tpot_target_ms": config.tpot_target_ms},
        "price": {"usd_per_hour": config.price_per_hour, "source": config.price_source},
        "endpoints": endpoints,
        "totals": {"requests": requests, "failures": failures,
                   "error_rate": finite(failures / requests) if requests else None,
                   "output_tokens": tokens,
                   "output_tokens_per_s": tokens_per_s,
                   "usd_per_million_output_tokens": usd_per_million_tokens(
                       config.price_per_hour, tokens_per_s if tokens else None)},
    }


def _number(value: float) -> float | int:
    """``300`` rather than ``300.0`` for a whole number (as the schema shows it)."""
    return int(value) if float(value).is_integer() else value


def _endpoint(config: LoadtestConfig, row: EndpointCounts, samples: list[LlmSample],
              duration_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": row.name, "group": row.group, "llm": row.llm, "requests": row.requests,
        "failures": row.failures, "rps": finite(row.requests / duration_s),
        "latency_ms": row.latency_ms,
    }
    if row.llm:
        out.update(llm_figures(samples, row.requests, duration_s, config.ttft_target_ms,
                               config.tpot_target_ms))
    return out
