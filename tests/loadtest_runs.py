"""Seed load-test runs in the contracted store layout through the real store (``write_run``):
``summary.json`` schema 1 plus the Locust CSVs, with figures a test chooses."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowllama.loadtest.store import ResultsStore, RunRef, new_run_id

START = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def summary(target: str, run_id: str, *, latency_ms: float = 100.0, tps: float = 50.0,
            failures: int = 0, usd_per_hour: float = 0.0) -> dict[str, Any]:
    """A schema-1 summary of one run: a non-LLM and a streaming LLM endpoint."""
    requests = 100
    pct = {"p50": latency_ms, "p90": latency_ms * 1.5, "p95": latency_ms * 1.8,
           "p99": latency_ms * 2.5}
    usd = usd_per_hour / (tps * 3600) * 1e6 if tps else None
    return {
        "schema_version": 1, "run_id": run_id,
        "target": {"name": target, "api_url": None, "ollama_url": "http://127.0.0.1/ollama/x",
                   "token_api_url": "http://127.0.0.1/v1", "model": target},
        "started_at": "2026-12-05T04:00:00Z", "ended_at": "2026-12-05T04:01:00Z",
        "settings": {"duration_s": 60, "users": 2, "spawn_rate": 2,
                     "weights": {"backend": 0, "ollama": 1, "tokenapi": 2}, "max_tokens": 64,
                     "ttft_target_ms": 2000, "tpot_target_ms": 200},
        "price": {"usd_per_hour": usd_per_hour, "source": "test"},
        "endpoints": [
            {"name": "GET /v1/models", "group": "tokenapi", "llm": False,
             "requests": requests, "failures": 0, "rps": 1.6, "latency_ms": pct},
            {"name": "POST /v1/chat/completions (stream)", "group": "tokenapi", "llm": True,
             "requests": requests, "failures": failures, "rps": 1.5, "latency_ms": pct,
             "ttft_ms": pct, "itl_ms": {k: v / 10 for k, v in pct.items()},
             "tpot_ms": {k: v / 10 for k, v in pct.items()}, "e2e_ms": pct,
             "output_tokens": 6400, "output_tokens_per_s_per_request": {"p50": tps, "mean": tps},
             "output_tokens_per_s": tps, "goodput_rps": 1.4, "goodput_ratio": 0.95},
        ],
        "totals": {"requests": 2 * requests, "failures": failures,
                   "error_rate": failures / (2 * requests), "output_tokens": 6400,
                   "output_tokens_per_s": tps, "usd_per_million_output_tokens": usd},
    }


def write_runs(store: ResultsStore, target: str, tmp: Path, figures: list[dict[str, Any]]
               ) -> list[RunRef]:
    """One stored run per entry of ``figures`` (keyword arguments of :func:`summary`), an
    hour apart, oldest first."""
    csv = tmp / "stats.csv"
    csv.write_text("Type,Name,Request Count\nGET,/v1/models,100\n")
    refs = []
    for i, kwargs in enumerate(figures):
        run_id = new_run_id(START + timedelta(hours=i))
        files = {name: csv for name in ("stats.csv", "stats_history.csv", "failures.csv",
                                        "exceptions.csv")}
        refs.append(store.write_run(target, run_id, files, summary(target, run_id, **kwargs)))
    return refs


def random_target() -> str:
    return f"t-{secrets.token_hex(3)}"
