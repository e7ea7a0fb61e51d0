"""Compute-graph sizes per architecture, from Ollama's old ``fs/ggml/ggml.go`` ``GraphSize``.

Each architecture has a "full offload" and a "partial offload" size; integer arithmetic in the
order the formulas are written, as the original uses unsigned integers.
"""

from __future__ import annotations

from flowllama.catalog.models import Architecture

BATCH_SIZE = 512
"""Ollama's default ``num_batch``."""


def graph_sizes(arch: Architecture, context: int, kv_total: int) -> tuple[int, int]:
    """``(partial, full)`` graph bytes for ``context`` total tokens (num_ctx x parallel)."""
    batch = min(context, BATCH_SIZE)
    if arch.arch == "llama":
        return _llama(arch, context, batch)
    if arch.arch == "qwen2":
        return _qwen2(arch, context, batch)
    if arch.arch in ("gemma", "gemma2"):
        return _gemma(arch, context, batch)
    # Unknown architectures: (heads per KV head) x total KV / 6, full = partial.
    partial = arch.head_count // max(arch.head_count_kv, 1) * kv_total // 6
    return partial, partial


def _llama(arch: Architecture, c: int, b: int) -> tuple[int, int]:
    e, h, hkv, v, hd = (arch.embedding_length, arch.head_count, arch.head_count_kv,
                        arch.vocab_size, arch.head_dim)
    full = max(4 * b * (1 + 4 * e + c * (1 + h)), 4 * b * (e + v))
    partial = 4 * b * e + max(
        4 * b * (1 + e + max(c, e)) + e * e * 9 // 16 + 4 * c * (b * h + hd * hkv),
        4 * b * (e + v) + e * v * 105 // 128,
    )
    return partial, full


def _qwen2(arch: Architecture, c: int, b: int) -> tuple[int, int]:
    e, h, v = arch.embedding_length, arch.head_count, arch.vocab_size
    full = max(4 * b * (e + v), 4 * b * (1 + 2 * e + c + c * h))
    partial = max(
        4 * b * (e + v) + e * v * 105 // 128,
        4 * (b * (1 + 2 * e + c * (1 + h)) + e * (1 + c)),
    )
    return partial, full


def _gemma(arch: Architecture, c: int, b: int) -> tuple[int, int]:
    e, h, v, hd = arch.embedding_length, arch.head_count, arch.vocab_size, arch.head_dim
    full = max(4 * b * (e + v), 4 * b * (2 + c + c * h + 2 * e + 2 * hd * h))
    partial = max(
        4 * e * b + e * v * 105 // 128 + 4 * v * b,
        4 * b * (2 * e + 1 + 2 * hd * h + c + c * h) + 4 * hd * c * 8 + e * hd * h * 9 // 16,
    )
    return partial, full
