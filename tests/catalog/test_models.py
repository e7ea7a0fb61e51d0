"""The model catalog: packaged rows, lookups, close-name hints and local GGUF files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowllama.catalog.models import ModelCatalog, default_catalog, validate_model_name
from flowllama.catalog.sizing import estimate_memory
from flowllama.errors import InvalidInput, NotFound

Writer = Callable[..., Any]

REQUIRED_TAGS = [
    "llama3.2:1b", "llama3.2:3b", "llama3.1:8b", "llama3.1:70b", "llama3.3:70b", "mistral:7b",
    "mistral-small:24b", "qwen2.5:0.5b", "qwen2.5:1.5b", "qwen2.5:3b", "qwen2.5:7b",
    "qwen2.5:14b", "qwen2.5:32b", "qwen2.5:72b", "deepseek-r1:1.5b", "deepseek-r1:7b",
    "deepseek-r1:8b", "deepseek-r1:14b", "deepseek-r1:32b", "deepseek-r1:70b", "gemma2:2b",
    "gemma2:9b", "gemma2:27b", "phi3:mini",
]


def test_every_required_tag_is_in_the_catalog() -> None:
    catalog = default_catalog()
    assert [tag for tag in REQUIRED_TAGS if tag not in catalog] == []


@pytest.mark.parametrize("tag", REQUIRED_TAGS)
def test_rows_are_complete_and_sourced(tag: str) -> None:
    model = default_catalog().get(tag)
    arch = model.architecture
    assert model.size_bytes > 100_000_000
    assert arch.block_count > 0 and arch.context_length >= 4096 and arch.vocab_size > 0
    assert arch.head_count % arch.head_count_kv == 0
    assert model.capabilities and model.typical_use
    for group in ("size", "architecture", "quantization", "parameters"):
        assert model.source.get(group), f"{tag} has no source for {group}"


def test_distills_share_their_base_architecture() -> None:
    catalog = default_catalog()
    assert catalog.get("deepseek-r1:8b").architecture == catalog.get("llama3.1:8b").architecture
    assert (catalog.get("deepseek-r1:70b").architecture
            == catalog.get("llama3.3:70b").architecture)
    r1_14b, qwen_14b = catalog.get("deepseek-r1:14b"), catalog.get("qwen2.5:14b")
    # Same network; the distill's config raises the trained context from 32k to 128k.
    assert r1_14b.architecture.block_count == qwen_14b.architecture.block_count == 48
    assert r1_14b.architecture.context_length == 131072


def test_get_is_case_insensitive() -> None:
    assert default_catalog().get(" Llama3.1:8B ").name == "llama3.1:8b"


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(NotFound) as caught:
        default_catalog().get("llama3.1:7b")
    assert caught.value.field == "model"
    assert "Did you mean: " in caught.value.message
    assert "llama3.1:8b" in caught.value.message


@pytest.mark.parametrize("name", ["../etc/passwd", "local/../secret", "a/b/c", "x y", "", "q:"])
def test_names_that_could_escape_a_path_are_rejected(name: str) -> None:
    with pytest.raises(InvalidInput):
        validate_model_name(name)


def test_families_and_listing() -> None:
    catalog = default_catalog()
    assert {"llama3.1", "qwen2.5", "deepseek-r1", "gemma2", "phi3"} <= set(catalog.families())
    assert [m.name for m in catalog.by_family("gemma2")] == ["gemma2:2b", "gemma2:9b",
                                                             "gemma2:27b"]
    assert len(catalog.all()) == len(catalog) >= len(REQUIRED_TAGS)


def test_local_gguf_numbers_come_from_the_header(tmp_path: Path, gguf_file: Writer) -> None:
    gguf_file(tmp_path / "tiny.gguf", blocks=2, embedding=64, heads=4, kv_heads=2,
                    vocab=32, context=2048)
    catalog = default_catalog().with_local_models(tmp_path)
    model = catalog.get("local/tiny")
    arch = model.architecture
    assert (arch.arch, arch.block_count, arch.embedding_length) == ("llama", 2, 64)
    assert (arch.head_count, arch.head_count_kv, arch.head_dim) == (4, 2, 16)
    assert (arch.vocab_size, arch.context_length) == (32, 2048)
    assert model.quantization == "F16"
    assert model.size_bytes == (tmp_path / "tiny.gguf").stat().st_size
    # output_norm (64 x F16) + output (32 x 64 x F16)
    assert model.output_bytes == 64 * 2 + 32 * 64 * 2
    assert "llama3.1:8b" in catalog  # the packaged rows stay
    estimate = estimate_memory(model, context_size=2048)
    assert estimate.breakdown.kv_cache_bytes == 2 * (2048 * 2 * 16 * 2 * 2)


def test_tied_embeddings_count_as_the_output_layer(tmp_path: Path, gguf_file: Writer) -> None:
    gguf_file(tmp_path / "tied.gguf", tied=True)
    model = ModelCatalog([]).with_local_models(tmp_path).get("local/tied")
    assert model.output_bytes == 64 * 2 + 32 * 64 * 2  # output_norm + token_embd


def test_unusable_files_are_skipped(tmp_path: Path, gguf_file: Writer) -> None:
    gguf_file(tmp_path / "good.gguf")
    (tmp_path / "broken.gguf").write_bytes(b"GGUF not really")
    gguf_file(tmp_path / "Bad Name!.gguf")
    outside = tmp_path / "outside"
    outside.mkdir()
    gguf_file(outside / "elsewhere.gguf")
    os.symlink(outside / "elsewhere.gguf", tmp_path / "link.gguf")
    names = [m.name for m in ModelCatalog([]).with_local_models(tmp_path).all()]
    assert names == ["local/good"]


def test_missing_models_dir_adds_nothing(tmp_path: Path) -> None:
    assert len(default_catalog().with_local_models(tmp_path / "nope")) == len(default_catalog())
