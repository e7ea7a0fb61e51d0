"""The figures of a run from its samples, the limits on a run's settings, and their parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowllama.errors import InvalidInput
from flowllama.loadtest.config import (
    MAX_DURATION_S,
    MAX_USERS,
    LoadtestConfig,
    parse_duration,
    parse_weights,
)
from flowllama.loadtest.measures import (
    LlmSample,
    StreamClock,
    llm_figures,
    percentiles,
    usd_per_million_tokens,
)
from flowllama.loadtest.summary import EndpointCounts, build_summary
from flowllama.loadtest.target import placement_price


def test_a_stream_clock_measures_ttft_itl_tpot() -> None:
    clock = StreamClock(started=10.0)
    for t in (10.5, 10.6, 10.8):
        clock.text(t)
    sample = clock.sample("s", ended=10.9, server_tokens=5)
    assert sample.ttft_ms == pytest.approx(500)
    assert sample.itl_ms == pytest.approx([100, 200])
    assert sample.e2e_ms == pytest.approx(900)
    assert sample.tpot_ms == pytest.approx(400 / 4)  # server count wins over 3 chunks
    assert sample.tokens_per_s == pytest.approx(5 / 0.9)
    assert StreamClock(0).sample("s", 1.0, None).output_tokens == 0


def test_goodput_and_percentiles() -> None:
    fast = LlmSample("s", e2e_ms=300, output_tokens=11, ttft_ms=100)  # TPOT 20
    slow_first = LlmSample("s", e2e_ms=3000, output_tokens=11, ttft_ms=2500)
    slow_tokens = LlmSample("s", e2e_ms=5100, output_tokens=11, ttft_ms=100)  # TPOT 500
    plain = LlmSample("s", e2e_ms=900, output_tokens=4)  # not streamed: e2e is its TTFT
    figures = llm_figures([fast, slow_first, slow_tokens, plain], requests=5, duration_s=10,
                          ttft_target_ms=1000, tpot_target_ms=200)
    assert figures["goodput_ratio"] == 0.4 and figures["goodput_rps"] == 0.2
    assert figures["output_tokens"] == 37 and figures["output_tokens_per_s"] == 3.7
    assert figures["ttft_ms"] == {"p50": 100, "p90": 2500, "p95": 2500, "p99": 2500}
    assert percentiles([]) == {"p50": None, "p90": None, "p95": None, "p99": None}
    assert percentiles(list(range(1, 101))) == {"p50": 50, "p90": 90, "p95": 95, "p99": 99}


def test_dollars_per_million_tokens() -> None:
    assert usd_per_million_tokens(3.6, 1000.0) == 1.0
    assert usd_per_million_tokens(0.0, 25.0) == 0.0  # free, shown as "free"
    assert usd_per_million_tokens(1.0, 0.0) is None  # no tokens: no price
    assert usd_per_million_tokens(None, 25.0) is None


def test_a_summary_without_tokens_has_nulls_not_nan() -> None:
    config = LoadtestConfig("t", token_api_url="http://x/v1", model="m", api_key="k",
                            price_per_hour=1.0)
    start = datetime(2026, 12, 5, 4, tzinfo=UTC)
    counts = [EndpointCounts("POST /v1/chat/completions (stream)", "tokenapi", True, 3, 3,
                             {"p50": 1.0, "p90": 1.0, "p95": 1.0, "p99": 1.0})]
    summary = build_summary(config, "20261205T040000Z-00000000", started=start,
                            ended=start + timedelta(seconds=30), counts=counts, samples=[])
    assert summary["totals"] == {"requests": 3, "failures": 3, "error_rate": 1.0,
                                 "output_tokens": 0, "output_tokens_per_s": 0.0,
                                 "usd_per_million_output_tokens": None}
    (row,) = summary["endpoints"]
    assert row["ttft_ms"]["p50"] is None and row["goodput_ratio"] == 0.0
    assert summary["started_at"] == "2026-12-05T04:00:00Z"


def test_settings_are_bounded_and_parsed() -> None:
    assert parse_duration("5m") == 300 and parse_duration("1h") == 3600
    assert parse_duration("20s") == 20 and parse_duration("1m30s") == 90
    for bad in ("", "soon", "5 minutes"):
        with pytest.raises(InvalidInput):
            parse_duration(bad)
    assert parse_weights("ollama=0") == {"backend": 1, "ollama": 0, "tokenapi": 2}
    with pytest.raises(InvalidInput):
        parse_weights("gpu=3")
    ok = LoadtestConfig("t", token_api_url="http://x/v1", model="m", api_key="k")
    ok.validate()
    for change, field in (({"duration_s": MAX_DURATION_S + 1}, "duration"),
                          ({"users": MAX_USERS + 1}, "users"), ({"users": 0}, "users"),
                          ({"api_key": None}, "api_key"), ({"model": None}, "model"),
                          ({"weights": {"tokenapi": 0}}, "weights")):
        bad = LoadtestConfig(**{**ok.to_json(), **change})
        with pytest.raises(InvalidInput) as refused:
            bad.validate()
        assert refused.value.field == field


def test_placement_price_and_source() -> None:
    assert placement_price({"cloud": "aws", "region": "us-east-1", "instance_type": "g5.xlarge",
                            "spot": True, "price_per_hour": 0.4}) == (
        0.4, "deployment placement billed $/h (aws/us-east-1/g5.xlarge, spot)")
    assert placement_price(None)[0] is None


def test_the_cli_refuses_bad_options_with_a_message() -> None:
    from typer.testing import CliRunner

    from flowllama.cli import app

    runner = CliRunner()
    for args, message in (
            (["--token-api-url", "http://127.0.0.1:9/v1", "--model", "m", "--api-key", "k",
              "--users", "1000"], "users must be between 1 and 64"),
            (["--token-api-url", "http://127.0.0.1:9/v1", "--model", "m"], "API key"),
            (["--duration", "forever"], "duration"),
            (["--deployment", "x", "--api-url", "http://127.0.0.1:9", "--email", "a@b.c",
              "--password", "p"], "cannot read deployment"),
            (["--token-api-url", "http://127.0.0.1:9/v1", "--model", "m", "--api-key", "k",
              "--results", "gs://b/p"], "gs://")):
        result = runner.invoke(app, ["loadtest", "run", *args],
                               env={"FLOWLLAMA_LOADTEST_API_KEY": ""})
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
