"""Memory sizing against numbers worked by hand from the formulas in shared/data/README.md."""

from __future__ import annotations

import pytest

from flowllama.catalog.graph import graph_sizes
from flowllama.catalog.models import default_catalog
from flowllama.catalog.quantization import scaled_weight_bytes
from flowllama.catalog.sizing import (
    GIB,
    GPU_RESERVE_BYTES,
    MIB,
    default_context_size,
    estimate_memory,
)
from flowllama.errors import InvalidInput

# llama3.1:8b, Q4_0 file of 4.7 GB, num_ctx 8192, 1 slot, f16 KV. E=4096 H=32 Hkv=8 hd=128
# V=128256 L=32, batch b = min(8192, 512) = 512.
KV_LAYER = 8192 * (128 + 128) * 8 * 2  # ctx x (k_len + v_len) x Hkv x 2 bytes = 33,554,432
KV_TOTAL = KV_LAYER * 32  # 1,073,741,824
# full = max(4b(1 + 4E + C(1+H)), 4b(E+V)) = max(2048 x 286,721, 2048 x 132,352)
GRAPH_FULL = 2048 * (1 + 4 * 4096 + 8192 * 33)  # 587,204,608
# partial = 4bE + max(4b(1+E+max(C,E)) + E^2*9/16 + 4C(bH + hd*Hkv), 4b(E+V) + E*V*105/128)
#         = 8,388,608 + max(25,167,872 + 9,437,184 + 570,425,344, 271,056,896 + 430,940,160)
GRAPH_PARTIAL = 8_388_608 + 271_056_896 + 430_940_160  # 710,385,664
OUTPUT = 128256 * 4096 * 9 // 16  # vocab x embedding at Q4_0's 4.5 bits = 295,501,824
LAYER = (4_700_000_000 - OUTPUT) // 32 + KV_LAYER  # 137,640,568 + 33,554,432 = 171,195,000
OVERHEAD = 457 * MIB + LAYER  # reserve + one-layer buffer = 650,394,232


def test_llama_8b_at_8k_matches_the_hand_computation() -> None:
    estimate = estimate_memory(default_catalog().get("llama3.1:8b"), context_size=8192)
    assert estimate.breakdown.weights_bytes == 4_700_000_000
    assert estimate.breakdown.kv_cache_bytes == KV_TOTAL == 1_073_741_824
    assert estimate.graph_full_bytes == GRAPH_FULL == 587_204_608
    assert estimate.graph_partial_bytes == GRAPH_PARTIAL == 710_385_664
    assert estimate.output_bytes == OUTPUT == 295_501_824
    assert estimate.layer_bytes == LAYER == 171_195_000
    assert estimate.breakdown.overhead_bytes == OVERHEAD == 650_394_232
    assert estimate.total_bytes == estimate.min_vram_bytes == (
        4_700_000_000 + KV_TOTAL + GRAPH_FULL + OVERHEAD) == 7_011_340_664
    assert estimate.min_ram_bytes == 4_700_000_000 + KV_TOTAL + GRAPH_FULL + GIB


def test_one_gpu_placement_threshold() -> None:
    # The last block needs free > reserve + buffer + 31 layers + max(graphs) + 1 layer, and the
    # output layer after it free > reserve + 33 layers + max(graphs) + output.
    estimate = estimate_memory(default_catalog().get("llama3.1:8b"), context_size=8192)
    threshold = GPU_RESERVE_BYTES + 33 * LAYER + GRAPH_PARTIAL + OUTPUT  # 7,134,521,720
    assert threshold == 7_134_521_720
    assert not estimate.fits(threshold, 1)
    assert estimate.fits(threshold + 1, 1)
    # Fully offloaded, the GPU holds its allocations plus the full graph.
    assert estimate.vram_per_gpu(threshold + 1, 1) == (
        GPU_RESERVE_BYTES + 33 * LAYER + OUTPUT + GRAPH_FULL)


def test_a_gpu_too_small_for_graph_reserve_and_two_layers_is_not_used() -> None:
    estimate = estimate_memory(default_catalog().get("llama3.1:8b"), context_size=8192)
    minimum = GPU_RESERVE_BYTES + GRAPH_PARTIAL + 2 * LAYER
    assert not estimate.fits(minimum - 1, 16)


def test_seventy_b_spreads_over_gpus() -> None:
    estimate = estimate_memory(default_catalog().get("llama3.1:70b"), context_size=8192)
    table = {fit.gpu: fit.gpus_needed for fit in estimate.gpus}
    assert table["T4"] == 4 and table["A10G"] == 2 and table["A100-80GB"] == 1
    assert not next(fit for fit in estimate.gpus if fit.gpu == "T4").fits_one


def test_qwen2_graph_formula() -> None:
    # qwen2.5:0.5b at 4096: E=896 H=14 V=151936 C=4096 b=512
    arch = default_catalog().get("qwen2.5:0.5b").architecture
    partial, full = graph_sizes(arch, 4096, 0)
    # full = max(4b(E+V), 4b(1+2E+C+CH)) = max(2048 x 152,832, 2048 x 63,233)
    assert full == 2048 * 152_832 == 312_999_936
    # partial = max(4b(E+V) + E*V*105/128, 4(b(1+2E+C(1+H)) + E(1+C)))
    #         = max(312,999,936 + 111,672,960, 4 x (32,375,296 + 3,670,912))
    assert partial == 312_999_936 + 111_672_960 == 424_672_896


def test_gemma2_graph_formula() -> None:
    # gemma2:2b at 8192: E=2304 H=8 hd=256 V=256000 b=512
    arch = default_catalog().get("gemma2:2b").architecture
    partial, full = graph_sizes(arch, 8192, 0)
    # full = max(4b(E+V), 4b(2+C+CH+2E+2 hd H)) = max(2048 x 258,304, 2048 x 82,434)
    assert full == 529_006_592
    # partial = max(4Eb + E*V*105/128 + 4Vb, 4b(2E+1+2 hd H+C+CH) + 4 hd C 8 + E hd H 9/16)
    #         = max(4,718,592 + 483,840,000 + 524,288,000, 168,822,784 + 67,108,864 + 2,654,208)
    assert partial == 1_012_846_592


def test_unknown_architecture_uses_the_kv_based_fallback() -> None:
    # phi3:mini: 32 layers, 32 heads, 32 KV heads, hd 96; 4096 ctx f16 KV
    estimate = estimate_memory(default_catalog().get("phi3:mini"), context_size=4096)
    kv_total = 4096 * 192 * 32 * 2 * 32  # 1,610,612,736
    assert estimate.breakdown.kv_cache_bytes == kv_total
    assert estimate.graph_partial_bytes == estimate.graph_full_bytes == (32 // 32) * kv_total // 6


def test_parallel_slots_and_kv_type_scale_the_cache() -> None:
    model = default_catalog().get("llama3.1:8b")
    base = estimate_memory(model, context_size=4096).breakdown.kv_cache_bytes
    assert estimate_memory(model, context_size=4096, parallel=2).breakdown.kv_cache_bytes == (
        2 * base)
    assert estimate_memory(model, context_size=4096, kv_cache_type="q8_0"
                           ).breakdown.kv_cache_bytes == base // 2
    assert estimate_memory(model, context_size=4096, kv_cache_type="q4_0"
                           ).breakdown.kv_cache_bytes == base // 4


def test_requantizing_scales_weights_by_bits_per_weight() -> None:
    model = default_catalog().get("llama3.2:1b")  # Q8_0 (8.5 bits) file of 1.3 GB
    estimate = estimate_memory(model, context_size=4096, quantization="q4_0")
    assert estimate.quantization == "Q4_0"
    assert estimate.breakdown.weights_bytes == round(1_300_000_000 * 4.5 / 8.5)
    assert scaled_weight_bytes(100, "Q4_0", "F16") == round(100 * 16 / 4.5)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"context_size": 0}, "context_size"),
    ({"context_size": 4096, "parallel": 0}, "parallel"),
    ({"context_size": 4096, "kv_cache_type": "f32x"}, "kv_cache_type"),
    ({"context_size": 4096, "quantization": "Q3_WHAT"}, "quantization"),
])
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        estimate_memory(default_catalog().get("llama3.1:8b"), **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(("vram", "expected"), [
    (80 * GIB, 262_144), (47 * GIB, 262_144), (47 * GIB - 1, 32_768), (24 * GIB, 32_768),
    (23 * GIB, 32_768), (23 * GIB - 1, 4_096), (16 * GIB, 4_096), (0, 4_096),
])
def test_default_context_tiers(vram: int, expected: int) -> None:
    assert default_context_size(vram) == expected


def test_default_context_is_capped_by_the_model() -> None:
    gemma = default_catalog().get("gemma2:2b")  # trained on 8192
    assert default_context_size(80 * GIB, gemma) == 8192
    assert default_context_size(8 * GIB, gemma) == 4096
