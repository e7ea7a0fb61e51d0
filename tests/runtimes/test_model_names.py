from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.errors import InvalidInput
from flowllama.runtimes import ModelNotFound
from flowllama.runtimes.model_names import is_local_model, local_model_file


def test_local_names_are_recognised() -> None:
    assert is_local_model("local/tiny")
    assert is_local_model(" Local/Tiny ")
    assert not is_local_model("llama3.2:1b")
    assert not is_local_model("hf.co/someone/local")


def test_local_name_maps_to_gguf_in_models_dir(tmp_path: Path) -> None:
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    assert local_model_file("local/tiny", tmp_path) == tmp_path / "tiny.gguf"


def test_file_whose_stem_differs_only_in_case_matches(tmp_path: Path) -> None:
    (tmp_path / "Qwen-Mini.gguf").write_bytes(b"GGUF")
    assert local_model_file("local/qwen-mini", tmp_path) == tmp_path / "Qwen-Mini.gguf"


def test_missing_file_says_which_file_was_expected(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"tiny\.gguf"):
        local_model_file("local/tiny", tmp_path)


@pytest.mark.parametrize("name", ["local/../etc/passwd", "local/", "local/a/b"])
def test_names_that_could_climb_out_of_the_models_dir_are_refused(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(InvalidInput):
        local_model_file(name, tmp_path)


def test_an_ollama_tag_is_not_a_local_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="not a local model"):
        local_model_file("llama3.2:1b", tmp_path)
