"""How much memory a model needs, following Ollama's pre-2025-11 estimator (``llm/memory.go``).

total = weights + KV cache + compute graph + fixed overheads (the 457 MiB per-GPU reserve and a
one-layer buffer). Whether it fits on N GPUs of a type is decided by simulating the estimator's
placement: layers from the last block down, then the output layer, each GPU keeping room for the
graph. ``docs/pricing.md`` works two examples through.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from flowllama.catalog.gpus import GPU_TYPES, SIZING_TABLE
from flowllama.catalog.graph import graph_sizes
from flowllama.catalog.models import ModelSpec
from flowllama.catalog.quantization import (
    BITS_PER_WEIGHT,
    normalize_quantization,
    scaled_weight_bytes,
)
from flowllama.errors import InvalidInput

MIB = 1024**2
GIB = 1024**3
GPU_RESERVE_BYTES = 457 * MIB
"""Ollama's fixed reserve on every CUDA GPU (``ml/device.go`` MinimumMemory)."""
CPU_HEADROOM_BYTES = 1 * GIB
"""FlowLlama's allowance for the OS and the Ollama process on a CPU-only machine."""
MAX_GPUS = 16
GPU_COUNTS = (1, 2, 4, 8, 16)
"""The GPU counts instances come with; ``gpus_needed`` answers with one of these."""

KvCacheType = Literal["f16", "q8_0", "q4_0"]
KV_BYTES_PER_ELEMENT: dict[str, float] = {"f16": 2.0, "q8_0": 1.0, "q4_0": 0.5}


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Where the bytes of a single-GPU (or CPU) load go."""

    weights_bytes: int
    kv_cache_bytes: int
    graph_bytes: int
    overhead_bytes: int


@dataclass(frozen=True, slots=True)
class GpuFit:
    """How a model fits one GPU type: ``gpus_needed`` is None when even 16 are not enough."""

    gpu: str
    memory_bytes_per_gpu: int
    fits_one: bool
    gpus_needed: int | None
    vram_per_gpu_bytes: int | None


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """The memory a model needs at a context size, and which GPUs can hold it.

    ``min_vram_bytes`` is the VRAM of a full offload on one GPU big enough for it;
    ``min_ram_bytes`` is the RAM of a CPU-only machine (including OS headroom).
    """

    model: str
    quantization: str
    context_size: int
    parallel: int
    kv_cache_type: str
    total_bytes: int
    breakdown: Breakdown
    layer_bytes: int
    block_count: int
    output_bytes: int
    graph_full_bytes: int
    graph_partial_bytes: int
    min_vram_bytes: int
    min_ram_bytes: int
    gpus: tuple[GpuFit, ...]

    def fits(self, memory_bytes_per_gpu: int, count: int) -> bool:
        """Whether every layer and the output layer fit on ``count`` GPUs of that size."""
        return _fits(self._layout_key(), memory_bytes_per_gpu, count) is not None

    def vram_per_gpu(self, memory_bytes_per_gpu: int, count: int) -> int | None:
        """Peak per-GPU allocation on ``count`` GPUs, or None if it does not fit."""
        return _fits(self._layout_key(), memory_bytes_per_gpu, count)

    def gpus_needed(self, memory_bytes_per_gpu: int) -> int | None:
        """Smallest instance GPU count (1, 2, 4, 8, 16) that holds the model, or None."""
        for count in GPU_COUNTS:
            if self.fits(memory_bytes_per_gpu, count):
                return count
        return None

    def _layout_key(self) -> tuple[int, int, int, int, int]:
        return (self.layer_bytes, self.block_count, self.output_bytes,
                self.graph_partial_bytes, self.graph_full_bytes)


def estimate_memory(
    model: ModelSpec,
    *,
    context_size: int,
    parallel: int = 1,
    quantization: str | None = None,
    kv_cache_type: str = "f16",
) -> MemoryEstimate:
    """Size ``model`` for ``context_size`` tokens per slot x ``parallel`` slots.

    Raises ``InvalidInput`` for a non-positive context or parallel, an unknown KV cache type or
    quantization. The context is *not* capped at the model's trained length here: the optimizer
    rejects such requests first, so callers see the error instead of a silent cap.
    """
    _check_positive(context_size, "context_size")
    _check_positive(parallel, "parallel")
    if kv_cache_type not in KV_BYTES_PER_ELEMENT:
        raise InvalidInput(
            f"kv_cache_type must be one of {', '.join(KV_BYTES_PER_ELEMENT)}",
            field="kv_cache_type",
        )
    quant = model.quantization if quantization is None else normalize_quantization(quantization)
    weights = scaled_weight_bytes(model.size_bytes, model.quantization, quant)
    arch = model.architecture
    ctx = context_size * parallel
    kv_layer = int(ctx * 2 * arch.head_dim * arch.head_count_kv
                   * KV_BYTES_PER_ELEMENT[kv_cache_type])
    kv_total = kv_layer * arch.block_count
    output = _output_bytes(model, weights)
    layer = (weights - output) // arch.block_count + kv_layer
    partial, full = graph_sizes(arch, ctx, kv_total)
    overhead = GPU_RESERVE_BYTES + layer
    vram = weights + kv_total + full + overhead
    estimate = MemoryEstimate(
        model=model.name, quantization=quant, context_size=context_size, parallel=parallel,
        kv_cache_type=kv_cache_type, total_bytes=vram,
        breakdown=Breakdown(weights, kv_total, full, overhead),
        layer_bytes=layer, block_count=arch.block_count, output_bytes=output,
        graph_full_bytes=full, graph_partial_bytes=partial, min_vram_bytes=vram,
        min_ram_bytes=weights + kv_total + full + CPU_HEADROOM_BYTES, gpus=(),
    )
    return _with_gpu_table(estimate)


def default_context_size(total_vram_bytes: int, model: ModelSpec | None = None) -> int:
    """Current Ollama's automatic ``num_ctx``: >=47 GiB -> 262,144; >=23 GiB -> 32,768; else 4,096.

    With a model, the result is capped at its trained context length, as Ollama does.
    """
    if total_vram_bytes >= 47 * GIB:
        tier = 262_144
    elif total_vram_bytes >= 23 * GIB:
        tier = 32_768
    else:
        tier = 4_096
    return min(tier, model.architecture.context_length) if model else tier


def _check_positive(value: int, name: str) -> None:
    if value < 1:
        raise InvalidInput(f"{name} must be at least 1", field=name)


def _output_bytes(model: ModelSpec, weights: int) -> int:
    if model.output_bytes is not None and model.quantization != "UNKNOWN":
        return min(model.output_bytes, weights)
    arch = model.architecture
    # Catalog rows have no tensor table: take the output projection (vocab x embedding) at
    # the quantization's bits per weight.
    bits = BITS_PER_WEIGHT.get(model.quantization, 8.0)
    return min(int(arch.vocab_size * arch.embedding_length * bits / 8), weights // 2)


def _with_gpu_table(estimate: MemoryEstimate) -> MemoryEstimate:
    fits = []
    for name in SIZING_TABLE:
        memory = GPU_TYPES[name].memory_bytes
        needed = estimate.gpus_needed(memory)
        per_gpu = estimate.vram_per_gpu(memory, needed) if needed else None
        fits.append(GpuFit(name, memory, needed == 1, needed, per_gpu))
    return replace(estimate, gpus=tuple(fits))


@lru_cache(maxsize=65_536)
def _fits(layout: tuple[int, int, int, int, int], memory: int, count: int) -> int | None:
    """Simulate the placement; the peak per-GPU allocation if everything fits, else None."""
    layer, blocks, output, partial, full = layout
    if count > 1:
        full = partial  # Ollama sizes the graph for partial offload on multi-GPU splits.
    graph = max(partial, full)
    # A GPU is used only if it holds the reserve, the graph and two layers.
    if memory < GPU_RESERVE_BYTES + graph + 2 * layer:
        return None
    allocations = [GPU_RESERVE_BYTES + layer] * count  # reserve + one-layer buffer each
    usable = list(range(count))
    for index in range(blocks - 1, -1, -1):
        if not _place(allocations, usable, index=index, size=layer, graph=graph, memory=memory):
            return None
    placed = _place(allocations, usable, index=blocks, size=output, graph=graph, memory=memory)
    if output and not placed:
        return None
    return max(allocations) + full


def _place(allocations: list[int], usable: list[int], *, index: int, size: int, graph: int,
           memory: int) -> bool:
    """Put one layer on a GPU round-robin, dropping GPUs that are full; False if none has room."""
    while usable:
        gpu = usable[index % len(usable)]
        if memory > allocations[gpu] + graph + size:
            allocations[gpu] += size
            return True
        usable.remove(gpu)
    return False
