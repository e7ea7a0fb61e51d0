"""From a deployment row to the places to try: ranked offers, de-duplicated, or this machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowllama.agent.placement import (
    describe,
    exclude,
    placements_for,
    provisioner_kind,
    spec_of,
)
from flowllama.db.tables import Deployment
from flowllama.providers.base import Placement, Unsupported
from flowllama.providers.local import LOCAL_PLACEMENT


def _offer(region: str, spot: bool = False, price: float = 0.5) -> dict[str, Any]:
    return {"cloud": "aws", "region": region, "zone": None, "instance_type": "g6.xlarge",
            "spot": spot, "price_per_hour": price, "gpu": "L4", "gpu_count": 1}


def _row(**fields: Any) -> Deployment:
    defaults: dict[str, Any] = {"id": "d1", "user_id": "u1", "name": "chat",
                                "model": "llama3.1:8b", "context_size": 8192, "parallel": 1,
                                "runtime": "auto", "cloud": "aws", "region": None,
                                "instance_type": None, "spot_tolerance": "low", "gpu": "auto"}
    return Deployment(**{**defaults, **fields})


def test_offers_keep_their_rank_and_lose_duplicates() -> None:
    row = _row(estimate={"candidates": [_offer("us-east-1", True, 0.3), _offer("us-east-1"),
                                        _offer("us-east-1", True, 0.3), _offer("us-west-2")]})
    places = placements_for(row)
    assert [(p.region, p.spot) for p in places] == [("us-east-1", True), ("us-east-1", False),
                                                   ("us-west-2", False)]
    assert places[0].gpu_count == 1 and places[0].price_per_hour == 0.3


def test_local_runs_here_and_an_empty_estimate_offers_nothing() -> None:
    assert placements_for(_row(cloud="local")) == [LOCAL_PLACEMENT]
    assert placements_for(_row(estimate=None)) == []


def test_spec_carries_the_users_pins() -> None:
    spec = spec_of(_row(region="eu-west-1", spot_tolerance="none", gpu="L4"))
    assert (spec.region, spec.spot, spec.gpu, spec.deployment_id) == ("eu-west-1", False, "L4",
                                                                      "d1")
    assert spec_of(_row(spot_tolerance="high")).spot


def test_kinds_and_descriptions() -> None:
    assert provisioner_kind(LOCAL_PLACEMENT) == "local"
    with pytest.raises(Unsupported):
        provisioner_kind(Placement(cloud="azure", region="x", instance_type="y"))
    text = describe(Placement(cloud="aws", region="us-east-2", instance_type="g6.xlarge",
                              spot=True, price_per_hour=0.31))
    assert text == "g6.xlarge spot in us-east-2 (aws, $0.3100/h)"


def test_a_pin_comes_first_and_excluded_offers_wait_until_their_time() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    pin = _offer("eu-west-1", price=0.9)
    row = _row(estimate={"candidates": [_offer("us-east-1", True, 0.3), _offer("us-west-2")]},
               placement_pin=pin)
    assert [p.region for p in placements_for(row, now=now)] == [
        "eu-west-1", "us-east-1", "us-west-2"]
    reclaimed = placements_for(row, now=now)[1]
    exclude(row, reclaimed, "spot server reclaimed by aws", now)
    assert [p.region for p in placements_for(row, now=now)] == ["eu-west-1", "us-west-2"]
    later = now + timedelta(hours=2)  # the exclusion ran out
    assert [p.region for p in placements_for(row, now=later)] == [
        "eu-west-1", "us-east-1", "us-west-2"]
    assert row.excluded_offers and row.excluded_offers[0]["reason"].startswith("spot server")


def test_after_a_reclaim_spot_elsewhere_then_the_other_cloud_then_on_demand() -> None:
    def offer(cloud: str, region: str, spot: bool, price: float) -> dict[str, Any]:
        return {**_offer(region, spot, price), "cloud": cloud}

    row = _row(estimate={"candidates": [
        offer("aws", "us-east-1", True, 0.1), offer("aws", "us-east-1", False, 0.2),
        offer("gcp", "us-central1", True, 0.15), offer("aws", "us-west-2", True, 0.3)]})
    gone = placements_for(row)[0]
    order = placements_for(row, reclaimed=gone)
    assert [(p.cloud, p.region, p.spot) for p in order] == [
        ("aws", "us-west-2", True), ("gcp", "us-central1", True),
        ("aws", "us-east-1", False), ("aws", "us-east-1", True)]
