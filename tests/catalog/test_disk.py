"""The root disk rule (``catalog/disk.py``): one size for what the optimizer prices and what the
stacks provision."""

from __future__ import annotations

import pytest

from flowllama.catalog.disk import FLOOR_GIB, GIB, OS_BASE_GIB, root_disk_gib
from flowllama.catalog.models import default_catalog
from flowllama.catalog.offers import DISK_USD_PER_GB_MONTH
from flowllama.catalog.optimizer import EstimateRequest, estimate
from flowllama.catalog.prices import load_snapshot


def _weights(model: str) -> int:
    return default_catalog().get(model).size_bytes


def test_a_small_model_gets_the_floor() -> None:
    assert root_disk_gib(_weights("llama3.1:8b")) == FLOOR_GIB == 100
    assert root_disk_gib(0) == FLOOR_GIB


def test_a_large_model_gets_the_base_two_copies_and_headroom() -> None:
    weights = _weights("llama3.3:70b")
    size = root_disk_gib(weights)
    assert size >= OS_BASE_GIB + 2 * weights / GIB > FLOOR_GIB
    assert size % 10 == 0 and size < (OS_BASE_GIB + 2 * weights / GIB) * 1.1 + 10
    assert size == 180


def test_bigger_weights_never_get_a_smaller_disk() -> None:
    sizes = sorted(model.size_bytes for model in default_catalog().all())
    disks = [root_disk_gib(weights) for weights in sizes]
    assert disks == sorted(disks)


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="weights_bytes"):
        root_disk_gib(-1)


@pytest.mark.parametrize("model", ["llama3.2:1b", "llama3.1:8b", "gemma2:27b", "llama3.3:70b"])
def test_the_estimate_prices_the_disk_a_server_is_given(model: str) -> None:
    result = estimate(EstimateRequest(model=model, spot_tolerance="high"),
                      prices=load_snapshot())
    assert result.root_disk_gib == root_disk_gib(result.requirements.breakdown.weights_bytes)
    assert result.candidates
    for offer in result.candidates:
        assert offer.breakdown.disk_gb == result.root_disk_gib
        assert offer.breakdown.disk == round(
            result.root_disk_gib * DISK_USD_PER_GB_MONTH[offer.cloud], 2)
