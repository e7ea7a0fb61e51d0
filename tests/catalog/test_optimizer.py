"""The optimizer: rules, errors, reasons, and a brute-force check over the whole catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.catalog.conftest import write_tiny_gguf

from flowllama.catalog.gpus import GPU_TYPES
from flowllama.catalog.models import default_catalog
from flowllama.catalog.offers import HOURS_PER_MONTH, fixed_monthly
from flowllama.catalog.optimizer import (
    MAX_CANDIDATES,
    EstimateRequest,
    EstimateResult,
    estimate,
    parse_request,
)
from flowllama.catalog.prices import load_snapshot
from flowllama.catalog.sizing import GIB, estimate_memory
from flowllama.errors import InvalidInput, NotFound


def run(**fields: Any) -> EstimateResult:
    return estimate(EstimateRequest(**fields), prices=load_snapshot())


def test_recommendation_for_llama_8b() -> None:
    result = run(model="llama3.1:8b", context_size=8192, spot_tolerance="high")
    best = result.recommended
    assert best is not None and best.gpu is not None
    assert result.requirements.min_vram_bytes == 7_011_340_664
    assert set(result.by_cloud) == {"aws", "gcp"}
    assert result.source == "snapshot" and result.as_of == "2026-07-30"
    assert best.price_per_month == pytest.approx(
        best.price_per_hour * HOURS_PER_MONTH + best.breakdown.disk + best.breakdown.egress,
        abs=0.02)
    assert result.rationale.startswith("llama3.1:8b @ 8k ctx needs 7.0 GB -> fits 1x")
    assert "below" in result.rationale and best.rationale == result.rationale


def test_candidates_are_ranked_capped_and_distinct() -> None:
    result = run(model="qwen2.5:7b", spot_tolerance="high")
    prices = [offer.price_per_month for offer in result.candidates]
    assert len(result.candidates) == MAX_CANDIDATES
    assert prices == sorted(prices)
    keys = {(o.cloud, o.instance_type, o.gpu, o.gpu_count, o.region, o.spot)
            for o in result.candidates}
    assert len(keys) == MAX_CANDIDATES
    assert result.candidates[0] == result.recommended


def test_a_spot_offer_is_followed_by_its_on_demand_fallback() -> None:
    result = run(model="llama3.1:8b", spot_tolerance="high", instance_type="g6.xlarge",
                 regions=("us-east-1",), clouds=("aws",))
    markets = [(o.instance_type, o.region, o.spot) for o in result.candidates]
    assert markets == [("g6.xlarge", "us-east-1", True), ("g6.xlarge", "us-east-1", False)]


@pytest.mark.parametrize(("model", "tolerance", "clouds"), [
    ("llama3.1:8b", "high", ("aws", "gcp")),  # cloud: auto, where the cheapest 20 are all spot
    ("qwen2.5:7b", "high", ("gcp",)),
    ("llama3.2:1b", "low", ("aws", "gcp")),
])
def test_every_spot_candidate_keeps_its_on_demand_twin_under_the_cap(
        model: str, tolerance: str, clouds: tuple[str, ...]) -> None:
    result = run(model=model, spot_tolerance=tolerance, clouds=clouds)
    offers = result.candidates
    assert 0 < len(offers) <= MAX_CANDIDATES and any(o.spot for o in offers)
    assert [o.price_per_month for o in offers] == sorted(o.price_per_month for o in offers)
    assert offers[0] == result.recommended
    on_demand_priced = {(r.cloud, r.instance_type, r.gpu, r.gpu_count, r.region)
                        for r in load_snapshot().rows if r.on_demand is not None}
    held = {(o.cloud, o.instance_type, o.gpu, o.gpu_count, o.region, o.spot) for o in offers}
    for offer in offers:
        place = (offer.cloud, offer.instance_type, offer.gpu, offer.gpu_count, offer.region)
        if offer.spot and place in on_demand_priced:
            assert (*place, False) in held, f"no on-demand twin for {place}"


def test_no_spot_tolerance_means_on_demand_only() -> None:
    result = run(model="llama3.1:8b", spot_tolerance="none")
    assert result.candidates and not any(offer.spot for offer in result.candidates)


def test_low_tolerance_takes_spot_only_at_half_price() -> None:
    on_demand = run(model="mistral:7b", spot_tolerance="none").recommended
    low = run(model="mistral:7b", spot_tolerance="low").recommended
    assert on_demand is not None and low is not None
    if low.spot:
        assert low.price_per_hour < 0.5 * on_demand.price_per_hour
    else:
        assert low == on_demand


def test_cpu_only_offers_have_the_ram() -> None:
    result = run(model="qwen2.5:0.5b", gpu="none", clouds=("aws",))
    assert result.candidates
    for offer in result.candidates:
        assert offer.gpu is None and offer.memory_gib * GIB >= result.requirements.min_ram_bytes


def test_gpu_preference_and_region_filter() -> None:
    result = run(model="gemma2:9b", gpu="l4", regions=("us-central1", "us-east-1"))
    assert result.candidates
    assert {offer.gpu for offer in result.candidates} == {"L4"}
    assert {offer.region for offer in result.candidates} <= {"us-central1", "us-east-1"}


def test_pinned_instance_type() -> None:
    result = run(model="llama3.2:3b", instance_type="g5.xlarge")
    assert {offer.instance_type for offer in result.candidates} == {"g5.xlarge"}
    assert result.by_cloud["gcp"] is None


def test_pinned_type_too_small_is_a_reason_not_an_error() -> None:
    result = run(model="llama3.1:70b", instance_type="g4dn.xlarge")
    assert result.recommended is None and result.candidates == ()
    assert result.reason is not None and "does not fit on g4dn.xlarge" in result.reason


def test_unknown_pinned_type_is_a_reason() -> None:
    result = run(model="llama3.1:8b", instance_type="x9.huge")
    assert result.reason == "Unknown instance type 'x9.huge' on AWS/GCP"


def test_model_larger_than_any_gpu_of_a_kind() -> None:
    result = run(model="qwen2.5:72b", context_size=32768, gpu="T4", clouds=("gcp",))
    assert result.recommended is None
    assert result.reason is not None and "largest T4 instance on GCP has 4" in result.reason


def test_unknown_region_is_a_reason() -> None:
    result = run(model="llama3.1:8b", regions=("mars-north1",))
    assert result.reason == "None of the regions mars-north1 exists on AWS/GCP"


def test_unknown_model_lists_close_names() -> None:
    with pytest.raises(NotFound) as caught:
        run(model="qwen2.5:8b")
    assert caught.value.field == "model" and "qwen2.5:7b" in caught.value.message


def test_context_above_the_trained_maximum() -> None:
    with pytest.raises(InvalidInput) as caught:
        run(model="gemma2:9b", context_size=16384)
    assert caught.value.field == "context_size"
    assert "maximum of 8192" in caught.value.message


def test_default_context_is_the_models_own_within_its_maximum(tmp_path: Path) -> None:
    assert run(model="phi3:mini").context_size == 4096
    assert run(model="llama3.1:8b").context_size == 4096
    write_tiny_gguf(tmp_path / "short.gguf", context=1024)
    models = default_catalog().with_local_models(tmp_path)
    result = estimate(EstimateRequest(model="local/short", gpu="none"), models=models,
                      prices=load_snapshot())
    assert result.context_size == 1024 == models.get("local/short").default_context_size


@pytest.mark.parametrize(("typed", "tag"), [
    ("mistral", "mistral:7b"), ("mistral:latest", "mistral:7b"), ("Llama3.2", "llama3.2:3b"),
    ("qwen2.5", "qwen2.5:7b"), ("phi3", "phi3:mini"),
])
def test_a_bare_name_resolves_to_the_default_tag(typed: str, tag: str) -> None:
    assert run(model=typed).model == tag


def test_a_bare_name_without_a_default_tag_is_not_found() -> None:
    with pytest.raises(NotFound):
        run(model="gemma2:latest-ish")
    with pytest.raises(NotFound):
        run(model="llama3")


def test_auto_puts_a_small_model_on_a_cheaper_cpu_instance() -> None:
    cpu = run(model="qwen2.5:0.5b").recommended
    gpu_only = run(model="qwen2.5:0.5b", allow_cpu=False).recommended
    assert cpu is not None and gpu_only is not None
    assert cpu.gpu is None and cpu.vcpus >= 4
    assert gpu_only.gpu is not None
    assert cpu.price_per_month < gpu_only.price_per_month / 3
    sizing = estimate_memory(default_catalog().get("qwen2.5:0.5b"), context_size=4096)
    assert cpu.memory_gib * GIB >= sizing.min_ram_bytes


def test_auto_keeps_a_large_model_on_a_gpu() -> None:
    best = run(model="llama3.1:8b").recommended
    assert best is not None and best.gpu is not None


def test_unknown_gpu() -> None:
    with pytest.raises(InvalidInput) as caught:
        run(model="llama3.1:8b", gpu="RTX4090")
    assert caught.value.field == "gpu"


@pytest.mark.parametrize(("data", "field"), [
    ({"model": "llama3.1:8b", "parallel": 0}, "parallel"),
    ({"model": "llama3.1:8b", "clouds": ["azure"]}, "clouds.0"),
    ({"model": "llama3.1:8b", "spot_tolerance": "maybe"}, "spot_tolerance"),
    ({"context_size": 4096}, "model"),
])
def test_parse_request_reports_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_request(data)
    assert caught.value.field == field


def _row_holds(row: Any, gpu: str, sizing: Any, *, cpu_too: bool = False) -> bool:
    if gpu == "none" or (cpu_too and row.gpu is None and row.vcpus >= 4):
        return row.gpu is None and row.memory_gib * GIB >= sizing.min_ram_bytes
    if row.gpu not in GPU_TYPES or (gpu != "auto" and GPU_TYPES[row.gpu].family != gpu):
        return False
    return bool(sizing.fits(row.gpu_memory_mib * 1024**2, row.gpu_count))


def _brute_force(request: EstimateRequest) -> tuple[Any, ...] | None:
    """The cheapest offer by scanning every snapshot row, without the optimizer's index."""
    model = default_catalog().get(request.model)
    context = request.context_size or min(4096, model.architecture.context_length)
    sizing = estimate_memory(model, context_size=context, parallel=request.parallel)
    options: list[tuple[Any, ...]] = []
    for row in load_snapshot().rows:
        if row.cloud not in request.clouds:
            continue
        if request.regions and row.region not in request.regions:
            continue
        if request.instance_type and row.instance_type != request.instance_type:
            continue
        small = sizing.breakdown.weights_bytes <= 3 * GIB
        cpu_too = request.gpu == "auto" and request.allow_cpu and small
        if not _row_holds(row, request.gpu, sizing, cpu_too=cpu_too):
            continue
        fixed = fixed_monthly(row.cloud, sizing.breakdown.weights_bytes)
        for spot, hourly in ((False, row.on_demand), (True, row.spot)):
            if hourly is not None:
                options.append((hourly * HOURS_PER_MONTH + fixed.disk + fixed.egress, hourly,
                                row.cloud, row.instance_type, row.gpu or "", row.gpu_count,
                                row.region, spot))
    on_demand = [o for o in options if not o[-1]]
    if request.spot_tolerance == "none":
        options = on_demand
    elif request.spot_tolerance == "low" and on_demand:
        ceiling = 0.5 * min(on_demand)[1]
        options = on_demand + [o for o in options if o[-1] and o[1] < ceiling]
    return min(options) if options else None


def _as_key(result: EstimateResult) -> tuple[Any, ...] | None:
    best = result.recommended
    if best is None:
        return None
    return (best.cloud, best.instance_type, best.gpu or "", best.gpu_count, best.region,
            best.spot)


MODELS = [m.name for m in default_catalog().all()]


@st.composite
def requests(draw: st.DrawFn) -> EstimateRequest:
    model = default_catalog().get(draw(st.sampled_from(MODELS)))
    contexts = [c for c in (2048, 4096, 8192, 32768, 131072)
                if c <= model.architecture.context_length]
    clouds = draw(st.sampled_from([("aws",), ("gcp",), ("aws", "gcp")]))
    regions = draw(st.sampled_from([None, ("us-east-1",), ("us-central1", "europe-west4"),
                                    ("eu-west-1", "asia-east1", "us-west-2")]))
    return EstimateRequest(
        model=model.name, context_size=draw(st.sampled_from(contexts)),
        parallel=draw(st.integers(1, 4)),
        spot_tolerance=draw(st.sampled_from(["none", "low", "high"])),
        gpu=draw(st.sampled_from(["auto", "none", "T4", "L4", "A10G", "L40S", "A100",
                                  "A100-80GB", "H100"])),
        clouds=clouds, regions=regions,
        instance_type=draw(st.sampled_from([None, None, None, "g5.xlarge", "g6e.12xlarge",
                                            "g2-standard-8", "n1-standard-8", "r7i.4xlarge"])),
        allow_cpu=draw(st.booleans()),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_pick_equals_brute_force_minimum(request: EstimateRequest) -> None:
    result = estimate(request, prices=load_snapshot())
    expected = _brute_force(request)
    if expected is None:
        assert result.recommended is None and result.reason
        return
    assert result.recommended is not None
    assert result.recommended.price_per_hour == pytest.approx(expected[1])
    assert _as_key(result) == expected[2:]


def test_result_serialises_to_json() -> None:
    from pydantic import TypeAdapter

    result = run(model="llama3.2:1b", spot_tolerance="low")
    data = TypeAdapter(EstimateResult).dump_python(result, mode="json")
    assert data["recommended"]["breakdown"]["disk_gb"] == data["root_disk_gib"] == 100
    assert data["requirements"]["gpus"][0]["gpu"] == "T4"
    assert data["prices"]["aws"]["source"] == "snapshot"
