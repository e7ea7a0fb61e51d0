from __future__ import annotations

import pytest

from flowllama.errors import InvalidInput
from flowllama.runtimes import LlamaCppRuntime, OllamaRuntime, get_runtime, select_runtime


def test_auto_serves_local_gguf_with_llama_cpp_and_tags_with_ollama() -> None:
    assert isinstance(select_runtime("local/tiny"), LlamaCppRuntime)
    assert isinstance(select_runtime("llama3.2:1b"), OllamaRuntime)
    assert isinstance(select_runtime("qwen2.5:0.5b", "auto"), OllamaRuntime)


def test_explicit_choice_that_fits_is_honoured() -> None:
    assert isinstance(select_runtime("local/tiny", "llamacpp"), LlamaCppRuntime)
    assert isinstance(select_runtime("llama3.2:1b", "ollama"), OllamaRuntime)


@pytest.mark.parametrize(
    ("model", "requested"), [("local/tiny", "ollama"), ("llama3.2:1b", "llamacpp")]
)
def test_explicit_choice_that_cannot_serve_the_model_is_a_client_error(
    model: str, requested: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        select_runtime(model, requested)
    assert caught.value.field == "runtime"


def test_unknown_runtime_and_bad_model_name_name_their_field() -> None:
    with pytest.raises(InvalidInput) as runtime_error:
        get_runtime("vllm")
    assert runtime_error.value.field == "runtime"
    assert "llamacpp" in runtime_error.value.message
    with pytest.raises(InvalidInput) as model_error:
        select_runtime("../../etc/passwd")
    assert model_error.value.field == "model"
