"""Which runtime a model name belongs to, and where a ``local/<stem>`` model's file lives.

Names follow the catalog's rules (:func:`flowllama.catalog.models.validate_model_name`): Ollama
tags such as ``qwen2.5:0.5b`` and ``local/<stem>`` for ``<stem>.gguf`` in the models directory.
"""

from __future__ import annotations

from pathlib import Path

from flowllama.catalog.models import LOCAL_PREFIX, validate_model_name
from flowllama.runtimes.errors import ModelNotFound

GGUF_SUFFIX = ".gguf"
# A models directory is listed at most this far when a name's case differs from its file's.
MAX_SCANNED_FILES = 10_000


def is_local_model(name: str) -> bool:
    """Whether ``name`` is a ``local/<stem>`` GGUF model (served by llama.cpp by default)."""
    return name.strip().lower().startswith(LOCAL_PREFIX)


def local_model_file(name: str, models_dir: Path) -> Path:
    """The GGUF file behind ``local/<stem>``: ``models_dir/<stem>.gguf``.

    The catalog lower-cases names, so a file whose stem differs only in case also matches.
    Raises ``InvalidInput`` for a name that is not ``local/<stem>`` and ``ModelNotFound``
    (saying which file was expected) when no such file exists.
    """
    cleaned = validate_model_name(name)
    if not cleaned.startswith(LOCAL_PREFIX) or ":" in cleaned:
        raise ModelNotFound(f"{name!r} is not a local model name (expected local/<file stem>)")
    stem = cleaned.removeprefix(LOCAL_PREFIX)
    exact = models_dir / f"{stem}{GGUF_SUFFIX}"
    if exact.is_file():
        return exact
    if models_dir.is_dir():
        for index, candidate in enumerate(models_dir.iterdir()):
            if index >= MAX_SCANNED_FILES:
                break
            if candidate.suffix == GGUF_SUFFIX and candidate.stem.lower() == stem:
                return candidate
    raise ModelNotFound(f"Local model {name!r} needs the file {exact}, which does not exist")
