"""Pick the runtime for a model: by name, or automatically from the kind of model name."""

from __future__ import annotations

from typing import Literal, get_args

from flowllama.catalog.models import validate_model_name
from flowllama.errors import InvalidInput
from flowllama.runtimes.base import Runtime
from flowllama.runtimes.llamacpp import LlamaCppRuntime
from flowllama.runtimes.model_names import is_local_model
from flowllama.runtimes.ollama import OllamaRuntime

RuntimeName = Literal["ollama", "llamacpp"]
RuntimeChoice = Literal["auto", "ollama", "llamacpp"]
RUNTIME_NAMES: tuple[str, ...] = get_args(RuntimeName)


def get_runtime(name: str) -> Runtime:
    """The runtime called ``name``; ``InvalidInput`` (field ``runtime``) for any other name."""
    if name == OllamaRuntime.name:
        return OllamaRuntime()
    if name == LlamaCppRuntime.name:
        return LlamaCppRuntime()
    raise InvalidInput(
        f"Unknown runtime {name!r}; choose one of auto, {', '.join(RUNTIME_NAMES)}",
        field="runtime",
    )


def select_runtime(model_name: str, requested: str = "auto") -> Runtime:
    """The runtime that serves ``model_name``.

    ``auto`` picks llama.cpp for ``local/<stem>`` GGUF models and Ollama for Ollama tags. An
    explicit choice must fit the model: llama.cpp serves only local GGUF files, and Ollama
    serves only tags from its registry (it cannot open a ``local/`` file). A mismatch or an
    invalid name raises ``InvalidInput`` naming the field at fault.
    """
    validate_model_name(model_name)
    local = is_local_model(model_name)
    if requested == "auto":
        return LlamaCppRuntime() if local else OllamaRuntime()
    runtime = get_runtime(requested)
    if local and isinstance(runtime, OllamaRuntime):
        raise InvalidInput(
            f"{model_name!r} is a local GGUF file; serve it with the llamacpp runtime",
            field="runtime",
        )
    if not local and isinstance(runtime, LlamaCppRuntime):
        raise InvalidInput(
            f"{model_name!r} is an Ollama tag; the llamacpp runtime serves local/<stem> models",
            field="runtime",
        )
    return runtime
