"""Fixtures for the catalog tests: a tiny GGUF writer and an isolated price cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from flowllama.catalog import refresh

FIXTURES = Path(__file__).parent / "fixtures"


def write_tiny_gguf(path: Path, *, blocks: int = 2, embedding: int = 64, heads: int = 4,
                    kv_heads: int = 2, vocab: int = 32, context: int = 2048,
                    tied: bool = False) -> None:
    """A valid llama-architecture GGUF with random F16 weights, a few KB in size."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(blocks)
    writer.add_embedding_length(embedding)
    writer.add_feed_forward_length(embedding * 2)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_context_length(context)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_token_list([f"t{i}".encode() for i in range(vocab)])
    rng = np.random.default_rng(0)
    head_dim = embedding // heads

    def tensor(name: str, *shape: int) -> None:
        writer.add_tensor(name, rng.standard_normal(shape).astype(np.float16))

    tensor("token_embd.weight", vocab, embedding)
    for i in range(blocks):
        tensor(f"blk.{i}.attn_q.weight", embedding, embedding)
        tensor(f"blk.{i}.attn_k.weight", kv_heads * head_dim, embedding)
        tensor(f"blk.{i}.attn_v.weight", kv_heads * head_dim, embedding)
        tensor(f"blk.{i}.attn_output.weight", embedding, embedding)
        tensor(f"blk.{i}.ffn_up.weight", embedding * 2, embedding)
    tensor("output_norm.weight", embedding)
    if not tied:
        tensor("output.weight", vocab, embedding)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


WriteGguf = Callable[..., None]


@pytest.fixture
def gguf_file() -> WriteGguf:
    """``gguf_file(path, **shape)`` writes a tiny GGUF model (see ``write_tiny_gguf``)."""
    return write_tiny_gguf


@pytest.fixture(autouse=True)
def fresh_price_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test starts with no cached prices and a private data dir."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("FLOWLLAMA_DATA_DIR", str(data_dir))
    refresh.clear_cache()
    yield data_dir
    refresh.clear_cache()
