"""Weight quantizations FlowLlama can size, and how many bits each weight takes.

Pure block formats take their size from the ``gguf`` package's block table (e.g. Q4_0 stores 32
weights in 18 bytes = 4.5 bits). The K-quant "mixes" (Q4_K_M, Q5_K_M) keep some tensors at a
higher precision, so their average is an empirical figure, documented in ``docs/pricing.md``.
"""

from __future__ import annotations

import gguf

from flowllama.errors import InvalidInput

# Average bits/weight of Ollama's Q4_K_M files: 43 GB / 70.55 B params (llama3.3:70b) = 4.88 and
# 4.7 GB / 7.62 B (deepseek-r1:7b) = 4.94. Q5_K_M adds one bit to each K block (5.5 vs 4.5).
_MIXED_BITS = {"Q4_K_M": 4.9, "Q5_K_M": 5.7}
_BLOCK_TYPES = {
    "F32": gguf.GGMLQuantizationType.F32,
    "F16": gguf.GGMLQuantizationType.F16,
    "BF16": gguf.GGMLQuantizationType.BF16,
    "Q8_0": gguf.GGMLQuantizationType.Q8_0,
    "Q6_K": gguf.GGMLQuantizationType.Q6_K,
    "Q5_0": gguf.GGMLQuantizationType.Q5_0,
    "Q4_0": gguf.GGMLQuantizationType.Q4_0,
}


def _block_bits(kind: gguf.GGMLQuantizationType) -> float:
    block_size, type_size = gguf.GGML_QUANT_SIZES[kind]
    return type_size * 8 / block_size


BITS_PER_WEIGHT: dict[str, float] = {
    **{name: _block_bits(kind) for name, kind in _BLOCK_TYPES.items()},
    **_MIXED_BITS,
}
"""Quantizations a user may ask for, with their (average) bits per weight."""

SUPPORTED_QUANTIZATIONS: tuple[str, ...] = tuple(sorted(BITS_PER_WEIGHT))


def normalize_quantization(name: str) -> str:
    """Canonical spelling (``q4_k_m`` -> ``Q4_K_M``); raises ``InvalidInput`` if unsupported."""
    canonical = name.strip().upper()
    if canonical not in BITS_PER_WEIGHT:
        raise InvalidInput(
            f"Unsupported quantization {name!r}; use one of {', '.join(SUPPORTED_QUANTIZATIONS)}",
            field="quantization",
        )
    return canonical


def scaled_weight_bytes(size_bytes: int, from_quantization: str, to_quantization: str) -> int:
    """Estimated file size of the same model re-quantized, scaled by bits per weight.

    An unknown source quantization (e.g. an IQ type read from a local file) cannot be scaled,
    so only its own quantization is accepted for it.
    """
    source = from_quantization.upper()
    if to_quantization.strip().upper() == source:  # sized as stored: any type will do
        return size_bytes
    target = normalize_quantization(to_quantization)
    if source not in BITS_PER_WEIGHT:
        raise InvalidInput(
            f"This model is stored as {from_quantization}; it can only be sized as is",
            field="quantization",
        )
    return round(size_bytes * BITS_PER_WEIGHT[target] / BITS_PER_WEIGHT[source])


def file_type_name(file_type: int) -> str:
    """Name of a GGUF ``general.file_type`` value (15 -> ``Q4_K_M``); ``UNKNOWN`` if new."""
    try:
        member = gguf.LlamaFileType(file_type)
    except ValueError:
        return "UNKNOWN"
    return member.name.removeprefix("MOSTLY_").removeprefix("ALL_")
