"""From a deployment row to the places to try: ranked offers, de-duplicated, or this machine."""

from __future__ import annotations

from typing import Any

import pytest

from flowllama.agent.placement import describe, placements_for, provisioner_kind, spec_of
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
