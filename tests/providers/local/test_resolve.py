"""From a model name to a runtime, a file inside the models directory and a sizing model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowllama.errors import ClientError, InvalidInput, NotFound
from flowllama.providers import DeploymentSpec
from flowllama.providers.local.resolve import resolve_model
from flowllama.runtimes import LlamaCppRuntime, OllamaRuntime


def _spec(model: str, **changes: object) -> DeploymentSpec:
    fields: dict[str, object] = {"deployment_id": "d1", "user_id": "u1", "name": "n",
                                 "model": model, "context_size": 512, **changes}
    return DeploymentSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def models_dir(tmp_path: Path, tiny_model_file: Path) -> Path:
    """A models dir with ``tiny.gguf``, next to a real GGUF file *outside* it."""
    inside = tmp_path / "models"
    inside.mkdir()
    shutil.copy(tiny_model_file, inside / "tiny.gguf")
    shutil.copy(tiny_model_file, tmp_path / "outside.gguf")
    (tmp_path / "sub").mkdir()
    shutil.copy(tiny_model_file, tmp_path / "sub" / "tiny.gguf")
    return inside


def test_a_local_model_is_its_file_served_by_llamacpp(models_dir: Path) -> None:
    resolved = resolve_model(_spec("local/tiny", parallel=4), models_dir)
    assert isinstance(resolved.runtime, LlamaCppRuntime)
    assert resolved.model_file == models_dir / "tiny.gguf"
    assert resolved.name == "local/tiny"
    assert resolved.sizing_model.local_path == str(models_dir / "tiny.gguf")
    assert resolved.parallel == 1  # llama.cpp serves one request at a time whatever is asked


def test_names_are_matched_case_insensitively(models_dir: Path) -> None:
    assert resolve_model(_spec("Local/TINY"), models_dir).model_file == models_dir / "tiny.gguf"


@pytest.mark.parametrize("name", [
    "local/../outside", "local/../../etc/passwd", "local//etc/passwd", "local/../sub/tiny",
    "local/sub/tiny", "/etc/passwd", "../outside", "local/tiny/../tiny", "local/.hidden",
    "local/%2e%2e/outside", "local/~/tiny", "local/tiny\x00", "local/",
])
def test_no_name_reaches_a_file_outside_the_models_dir(models_dir: Path, name: str) -> None:
    with pytest.raises(ClientError) as caught:
        resolve_model(_spec(name), models_dir)
    assert caught.value.field == "model"


def test_a_missing_file_names_the_file_it_expected(models_dir: Path) -> None:
    with pytest.raises(NotFound, match=r"nope\.gguf") as caught:
        resolve_model(_spec("local/nope"), models_dir)
    assert caught.value.field == "model"


def test_a_file_that_is_not_gguf_is_refused(models_dir: Path) -> None:
    (models_dir / "junk.gguf").write_bytes(b"not a model at all")
    with pytest.raises(InvalidInput, match=r"junk\.gguf") as caught:
        resolve_model(_spec("local/junk"), models_dir)
    assert caught.value.field == "model"


def test_an_ollama_tag_is_sized_from_the_catalog(models_dir: Path) -> None:
    resolved = resolve_model(_spec("qwen2.5:0.5b", parallel=3), models_dir)
    assert isinstance(resolved.runtime, OllamaRuntime)
    assert resolved.model_file is None
    assert (resolved.name, resolved.parallel) == ("qwen2.5:0.5b", 3)


def test_unknown_tags_and_wrong_runtimes_are_refused(models_dir: Path) -> None:
    with pytest.raises(NotFound) as unknown:
        resolve_model(_spec("no-such-model:7b"), models_dir)
    assert unknown.value.field == "model"
    with pytest.raises(InvalidInput) as mismatch:
        resolve_model(_spec("local/tiny", runtime="ollama"), models_dir)
    assert mismatch.value.field == "runtime"
    with pytest.raises(InvalidInput) as unknown_runtime:
        resolve_model(_spec("local/tiny", runtime="vllm"), models_dir)
    assert unknown_runtime.value.field == "runtime"


def test_a_runtime_override_replaces_the_selected_one(models_dir: Path) -> None:
    custom = OllamaRuntime(executable="/opt/ollama/bin/ollama")
    resolved = resolve_model(_spec("qwen2.5:0.5b"), models_dir, runtimes={"ollama": custom})
    assert resolved.runtime is custom
