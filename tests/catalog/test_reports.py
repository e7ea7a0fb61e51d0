"""The catalog reports: docs/models.md and docs/costs.md are current, and sampled rows agree
with a brute-force scan of the price snapshot (independent of the optimizer's index)."""

from __future__ import annotations

import csv
import io
from functools import cache
from pathlib import Path

import pytest
from tests.catalog.test_optimizer import _brute_force

from flowllama.catalog import report_text
from flowllama.catalog.offers import HOURS_PER_MONTH, fixed_monthly
from flowllama.catalog.optimizer import EstimateRequest
from flowllama.catalog.prices import load_snapshot
from flowllama.catalog.reports import MatrixRow, compare_rows, matrix_rows

DOCS = Path(__file__).resolve().parents[2] / "docs"


@cache
def _matrix() -> list[MatrixRow]:
    return matrix_rows(load_snapshot())


def test_generated_docs_are_current() -> None:
    prices = load_snapshot()
    expected = {
        "models.md": report_text.matrix_markdown(_matrix(), prices),
        "costs.md": report_text.compare_markdown(compare_rows(prices), prices),
    }
    for name, text in expected.items():
        assert (DOCS / name).read_text() == text, (
            f"docs/{name} is stale: regenerate it with `flowllama "
            f"{'models matrix' if name == 'models.md' else 'pricing compare'} --markdown "
            f"> docs/{name}`")


def test_matrix_covers_every_model_at_each_allowed_context() -> None:
    rows = _matrix()
    pairs = {(row.model, row.context) for row in rows}
    assert ("phi3:mini", 2048) in pairs and ("phi3:mini", 8192) not in pairs
    assert ("llama3.1:70b", 131072) in pairs
    assert len({row.model for row in rows}) == 24


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_sampled_rows_match_a_brute_force_scan(cloud: str) -> None:
    prices = load_snapshot()
    for row in _matrix()[::5]:
        request = EstimateRequest(model=row.model, context_size=row.context, clouds=(cloud,))
        expected = _brute_force(request)
        offer = row.on_demand[cloud]
        if expected is None:
            assert offer is None
            continue
        assert offer is not None
        assert (offer.cloud, offer.instance_type, offer.gpu or "", offer.gpu_count,
                offer.region, offer.spot) == expected[2:]
        sizing_weights = _weights(row.model)
        fixed = fixed_monthly(cloud, sizing_weights)
        assert offer.price_per_month == pytest.approx(
            expected[1] * HOURS_PER_MONTH + fixed.disk + fixed.egress, abs=0.01)
        cheapest = _brute_force(EstimateRequest(model=row.model, context_size=row.context,
                                                clouds=(cloud,), spot_tolerance="high"))
        assert cheapest is not None
        if cheapest[-1]:  # the cheapest of all is a spot offer: the spot column shows it
            spot = row.spot[cloud]
            assert spot is not None and spot.price_per_hour == pytest.approx(cheapest[1])
    assert prices.as_of


def _weights(model: str) -> int:
    from flowllama.catalog.models import default_catalog
    from flowllama.catalog.sizing import estimate_memory

    return estimate_memory(default_catalog().get(model), context_size=2048
                           ).breakdown.weights_bytes


def test_compare_rows_match_the_price_rows() -> None:
    prices = load_snapshot()
    rows = {row.name: row for row in compare_rows(prices)}
    t4 = [r for r in prices.rows if r.cloud == "aws" and r.gpu == "T4" and r.on_demand]
    best = min(r.on_demand / r.gpu_count for r in t4 if r.on_demand)
    cheapest = rows["T4"].on_demand["aws"]
    assert cheapest is not None and cheapest.unit_price == pytest.approx(best)
    assert rows["A10G"].on_demand["gcp"] is None  # GCP has no A10G
    assert rows["any CPU-only"].regions["gcp"] > 30


def test_csv_has_one_value_per_column() -> None:
    prices = load_snapshot()
    for text in (report_text.matrix_csv(_matrix()[:6]),
                 report_text.compare_csv(compare_rows(prices))):
        table = list(csv.reader(io.StringIO(text)))
        assert len(table) > 2
        assert {len(line) for line in table} == {len(table[0])}
