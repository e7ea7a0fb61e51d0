from __future__ import annotations

import string
from pathlib import Path

import gguf
import pytest

from flowllama.devtools.tiny_model import write_tiny_model


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = write_tiny_model(tmp_path / "a.gguf", seed=7).read_bytes()
    again = write_tiny_model(tmp_path / "b.gguf", seed=7).read_bytes()
    other = write_tiny_model(tmp_path / "c.gguf", seed=8).read_bytes()
    assert first == again
    assert first != other
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gguf", "b.gguf", "c.gguf"]


def test_file_is_a_small_llama_gguf_with_every_tensor(tiny_model_file: Path) -> None:
    assert tiny_model_file.stat().st_size < 1_000_000
    reader = gguf.GGUFReader(tiny_model_file)
    arch = reader.get_field("general.architecture")
    assert arch is not None and arch.contents() == "llama"
    names = {tensor.name for tensor in reader.tensors}
    per_block = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
                 "ffn_gate", "ffn_up", "ffn_down"}
    expected = {"token_embd.weight", "output_norm.weight", "output.weight"}
    expected |= {f"blk.{b}.{kind}.weight" for b in range(2) for kind in per_block}
    assert names == expected


def test_shape_is_configurable(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", n_layer=1, n_embd=32, n_head=2, n_head_kv=1,
                            context_length=256)
    reader = gguf.GGUFReader(path)
    field = reader.get_field("llama.context_length")
    assert field is not None and field.contents() == 256
    assert len(reader.tensors) == 3 + 9


@pytest.mark.parametrize(
    "shape", [{"n_embd": 60, "n_head": 8}, {"n_head": 4, "n_head_kv": 3}, {"n_layer": 0},
              {"context_length": 8}],
)
def test_impossible_shapes_are_refused(tmp_path: Path, shape: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        write_tiny_model(tmp_path / "m.gguf", **shape)
    assert list(tmp_path.iterdir()) == []


def test_llama_cpp_loads_it_and_generates_printable_text(tiny_model_file: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(str(tiny_model_file), n_ctx=128, n_threads=1, verbose=False)
    try:
        # Byte-level vocabulary: BOS, the space piece, then one token per byte.
        assert llm.tokenize(b"hi you") == [1, 259, 3 + ord("h"), 3 + ord("i"), 259,
                                            3 + ord("y"), 3 + ord("o"), 3 + ord("u")]
        result = llm.create_completion("hello", max_tokens=5, seed=3)
        assert result["usage"]["prompt_tokens"] == 7
        assert result["usage"]["completion_tokens"] == 5
        text = result["choices"][0]["text"]
        assert text and set(text) <= set(string.printable)
        pieces = [chunk["choices"][0]["text"]
                  for chunk in llm.create_completion("hello", max_tokens=5, seed=3, stream=True)]
        assert "".join(pieces) == text
        assert len([piece for piece in pieces if piece]) == 5
    finally:
        llm.close()
