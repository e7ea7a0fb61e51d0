"""From a deployment row to the places to try: ranked offers, de-duplicated, or this machine;
and the order they are tried in after a capacity error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowllama.agent.placement import (
    after_capacity_error,
    capacity_fallbacks,
    describe,
    exclude,
    placements_for,
    provisioner_kind,
    spec_of,
)
from flowllama.catalog.optimizer import EstimateRequest, estimate
from flowllama.catalog.prices import load_snapshot
from flowllama.db.tables import Deployment
from flowllama.providers.base import Placement, Unsupported
from flowllama.providers.local import LOCAL_PLACEMENT
from flowllama.providers.terraform.cloud_stacks import aws_ollama_stack
from flowllama.providers.terraform.stacks import stack_variables
from flowllama.services.catalog import result_json


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


def test_the_spec_carries_the_disk_the_estimate_priced() -> None:
    result = result_json(estimate(EstimateRequest(model="llama3.3:70b", context_size=8192),
                                  prices=load_snapshot()))
    spec = spec_of(_row(model="llama3.3:70b", estimate=result))
    assert spec.root_disk_gib == result["root_disk_gib"] == 180
    assert spec.root_disk_gib == result["recommended"]["breakdown"]["disk_gb"]
    # What the Terraform stacks are given is that same number.
    values = stack_variables(aws_ollama_stack(), spec, placements_for(_row(estimate=result))[0])
    assert values["root_volume_size_gb"] == spec.root_disk_gib


def test_an_estimate_stored_before_it_carried_a_disk_is_sized_by_the_same_rule() -> None:
    result = result_json(estimate(EstimateRequest(model="llama3.3:70b", context_size=8192),
                                  prices=load_snapshot()))
    del result["root_disk_gib"]
    assert spec_of(_row(model="llama3.3:70b", estimate=result)).root_disk_gib == 180
    assert spec_of(_row(estimate={"candidates": []})).root_disk_gib is None
    assert spec_of(_row(estimate=None)).root_disk_gib is None


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


def _estimated(cloud: str = "auto", region: str | None = None, spot_tolerance: str = "high",
               **request: Any) -> list[Placement]:
    """The places of a llama3.1:8b deployment whose estimate the real optimizer made (on the
    packaged price snapshot) under these constraints, as the API stores it."""
    result = estimate(EstimateRequest(
        model="llama3.1:8b", context_size=8192, spot_tolerance=spot_tolerance,  # type: ignore[arg-type]
        clouds=("aws", "gcp") if cloud == "auto" else (cloud,),  # type: ignore[arg-type]
        regions=(region,) if region else None, **request), prices=load_snapshot())
    row = _row(cloud=cloud, region=region, spot_tolerance=spot_tolerance,
               estimate=result_json(result))
    return placements_for(row)


def _where(p: Placement) -> tuple[str, str, str, bool]:
    return p.cloud, p.region, p.instance_type, p.spot


def _groups(order: list[Placement], failed: Placement) -> list[int]:
    """Each place's group after ``failed``: 0 its on-demand twin, 1 the same instance type
    elsewhere on its cloud, 2 other types on that cloud, 3 another cloud."""
    def group(p: Placement) -> int:
        if p.cloud != failed.cloud:
            return 3
        if p.instance_type != failed.instance_type:
            return 2
        return 0 if (p.region == failed.region and failed.spot and not p.spot) else 1

    return [group(p) for p in order]


def test_a_full_spot_offer_moves_to_its_on_demand_twin_then_the_same_type_elsewhere() -> None:
    places = _estimated()  # cloud auto, spot high: the cheapest offers are all spot
    first = places[0]
    assert _where(first) == ("aws", "us-west-2", "g4dn.xlarge", True)
    order = after_capacity_error(places, first)
    assert first not in order and len(order) == len(places) - 1
    assert _where(order[0]) == ("aws", "us-west-2", "g4dn.xlarge", False)
    assert _groups(order, first) == sorted(_groups(order, first))
    same_type = [p for p in order[1:] if _groups([p], first) == [1]]
    assert same_type, "the estimate keeps the same instance type in another region"
    assert [p.spot for p in same_type] == sorted((p.spot for p in same_type), reverse=True)
    assert all(p.cloud == "gcp" for p in order if _groups([p], first) == [3])


def test_a_full_on_demand_offer_moves_to_the_same_type_in_another_region() -> None:
    places = _estimated(cloud="aws", spot_tolerance="none")
    first = places[0]
    assert not any(p.spot for p in places)
    order = after_capacity_error(places, first)
    assert (order[0].instance_type, order[0].cloud) == (first.instance_type, "aws")
    assert order[0].region != first.region
    assert _groups(order, first) == sorted(_groups(order, first))
    assert not any(p.spot for p in order) and all(p.cloud == "aws" for p in order)


def test_a_pinned_region_stays_pinned() -> None:
    places = _estimated(cloud="aws", region="us-west-2")
    first = places[0]
    order = after_capacity_error(places, first)
    assert _where(order[0]) == ("aws", "us-west-2", first.instance_type, False)
    assert {p.region for p in order} == {"us-west-2"}
    assert all(p.instance_type != first.instance_type for p in order[1:])


def test_a_pinned_cloud_never_falls_back_to_the_other_one() -> None:
    places = _estimated(cloud="gcp")
    order = list(capacity_fallbacks(places))  # every place full, one after the other
    assert sorted(order, key=_where) == sorted(places, key=_where)
    assert {p.cloud for p in order} == {"gcp"}
    assert _where(order[1])[1:] == (*_where(order[0])[1:3], False)


def test_fallbacks_reorder_after_each_full_place() -> None:
    def offer(cloud: str, region: str, kind: str, spot: bool, price: float) -> dict[str, Any]:
        return {**_offer(region, spot, price), "cloud": cloud, "instance_type": kind}

    row = _row(estimate={"candidates": [
        offer("aws", "us-east-1", "g6.xlarge", True, 0.10),
        offer("gcp", "us-central1", "g2-standard-4", True, 0.11),
        offer("aws", "us-east-1", "g5.xlarge", True, 0.12),
        offer("aws", "us-west-2", "g6.xlarge", False, 0.50),
        offer("aws", "us-east-1", "g6.xlarge", False, 0.60),
        offer("aws", "eu-west-1", "g6.xlarge", True, 0.70),
        offer("aws", "us-west-2", "g6.xlarge", True, 0.80)]})
    order = [_where(p) for p in capacity_fallbacks(placements_for(row))]
    assert order == [
        ("aws", "us-east-1", "g6.xlarge", True),
        ("aws", "us-east-1", "g6.xlarge", False),     # its on-demand twin
        ("aws", "eu-west-1", "g6.xlarge", True),      # the same type elsewhere, spot first
        ("aws", "us-west-2", "g6.xlarge", True),
        ("aws", "us-west-2", "g6.xlarge", False),
        ("aws", "us-east-1", "g5.xlarge", True),      # another type on the same cloud
        ("gcp", "us-central1", "g2-standard-4", True),  # then the other cloud
    ]
    on_demand_first = placements_for(row)[3]
    assert on_demand_first.region == "us-west-2" and not on_demand_first.spot
    after = [_where(p) for p in after_capacity_error(placements_for(row), on_demand_first)]
    assert after[:4] == [
        ("aws", "us-east-1", "g6.xlarge", True),      # other regions of the type, spot first
        ("aws", "eu-west-1", "g6.xlarge", True),
        ("aws", "us-east-1", "g6.xlarge", False),
        ("aws", "us-west-2", "g6.xlarge", True)]      # the full region's other market last
