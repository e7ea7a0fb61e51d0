"""The model catalog: Ollama tags FlowLlama can deploy, with the numbers sizing needs.

The catalog ships as ``data/models.json`` (every row says where each group of numbers comes
from, see ``source``) and can be extended with GGUF files found in a directory, which appear as
``local/<file stem>``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from flowllama.errors import InvalidInput, NotFound

LOCAL_PREFIX = "local/"
OLLAMA_DEFAULT_CONTEXT = 4096
"""Ollama's ``num_ctx`` when nothing sets it (on GPUs under 23 GiB, and on CPU)."""
# Ollama tags ("qwen2.5:0.5b") and local names ("local/<stem>"); nothing that can climb a path.
_NAME_RE = re.compile(r"^(local/)?[a-z0-9][a-z0-9._-]{0,127}(:[a-z0-9][a-z0-9._-]{0,63})?$")


@dataclass(frozen=True, slots=True)
class Architecture:
    """The shape of the network, as GGUF metadata names it."""

    arch: str
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    head_dim: int
    vocab_size: int
    context_length: int


@dataclass(frozen=True, slots=True, eq=False)
class ModelSpec:
    """One deployable model: identity, default weights and architecture, with provenance.

    ``size_bytes`` is the download (GGUF file) size at ``quantization``. ``output_bytes`` is
    known only for local files; catalog rows estimate the output layer from vocab x embedding.
    Compared and hashed by identity, so it can key caches.
    """

    name: str
    family: str
    parameters: str
    quantization: str
    size_bytes: int
    architecture: Architecture
    capabilities: tuple[str, ...] = ()
    typical_use: str = ""
    parameter_count: int | None = None
    hf_model_id: str | None = None
    source: dict[str, str] = field(default_factory=dict)
    notes: str = ""
    local_path: str | None = None
    output_bytes: int | None = None

    @property
    def default_context_size(self) -> int:
        """The context a request that names none gets: Ollama's default, capped at the
        model's trained maximum (a 2,048-token local model gets 2,048)."""
        return min(OLLAMA_DEFAULT_CONTEXT, self.architecture.context_length)


def validate_model_name(name: str) -> str:
    """Lower-cased, stripped name; raises ``InvalidInput`` for anything that is not a tag."""
    cleaned = name.strip().lower()
    if not _NAME_RE.match(cleaned) or ".." in cleaned:
        raise InvalidInput(f"{name!r} is not a valid model name", field="model")
    return cleaned


class ModelCatalog:
    """An immutable set of models, looked up by name.

    Build it with :func:`default_catalog` (the packaged data) and add a directory of GGUF files
    with :meth:`with_local_models`, which returns a new catalog.
    """

    def __init__(self, models: Iterable[ModelSpec],
                 default_tags: Mapping[str, str] | None = None) -> None:
        self._models = {model.name: model for model in models}
        self._ordered = tuple(sorted(self._models.values(), key=_sort_key))
        self._default_tags = {name: tag for name, tag in (default_tags or {}).items()
                              if tag in self._models}

    def get(self, name: str) -> ModelSpec:
        """The model called ``name``; ``NotFound`` naming the closest matches otherwise.

        As in Ollama, a bare name (``mistral``) or ``<name>:latest`` means the name's default
        tag (``mistral:7b``, from ``default_tags`` in ``models.json``).
        """
        cleaned = validate_model_name(name)
        model = self._models.get(cleaned) or self._models.get(self._default_tag(cleaned))
        if model is not None:
            return model
        close = difflib.get_close_matches(cleaned, list(self._models), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else " See GET /api/models."
        raise NotFound(f"Unknown model {name!r}.{hint}", field="model")

    def _default_tag(self, name: str) -> str:
        base, _, tag = name.partition(":")
        if tag in ("", "latest"):
            return self._default_tags.get(base, name)
        return name

    def default_tags(self) -> dict[str, str]:
        """Bare Ollama names and the tag each stands for (``{"mistral": "mistral:7b"}``)."""
        return dict(self._default_tags)

    def all(self) -> list[ModelSpec]:
        """Every model, by family then size."""
        return list(self._ordered)

    def families(self) -> list[str]:
        """The distinct families, alphabetically."""
        return sorted({model.family for model in self._ordered})

    def by_family(self, family: str) -> list[ModelSpec]:
        """The models of one family (empty when the family is unknown)."""
        return [model for model in self._ordered if model.family == family]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._models

    def __len__(self) -> int:
        return len(self._models)

    def with_local_models(self, models_dir: Path) -> ModelCatalog:
        """This catalog plus every readable ``*.gguf`` in ``models_dir`` as ``local/<stem>``.

        Files whose stem is not a valid name, symlinks and unreadable files are skipped.
        """
        from flowllama.catalog.local_models import scan_local_models

        return ModelCatalog([*self._ordered, *scan_local_models(models_dir)],
                            self._default_tags)


def _sort_key(model: ModelSpec) -> tuple[str, int, str]:
    return (model.family, model.size_bytes, model.name)


def model_from_dict(row: dict[str, Any]) -> ModelSpec:
    """Build a :class:`ModelSpec` from one row of ``models.json``."""
    return ModelSpec(
        name=row["name"],
        family=row["family"],
        parameters=row["parameters"],
        quantization=row["quantization"],
        size_bytes=int(row["size_bytes"]),
        architecture=Architecture(**row["architecture"]),
        capabilities=tuple(row.get("capabilities", ())),
        typical_use=row.get("typical_use", ""),
        parameter_count=row.get("parameter_count"),
        hf_model_id=row.get("hf_model_id"),
        source=dict(row.get("source", {})),
        notes=row.get("notes", ""),
    )


@cache
def default_catalog() -> ModelCatalog:
    """The packaged catalog, parsed once per process."""
    text = resources.files("flowllama.catalog").joinpath("data/models.json").read_text("utf-8")
    data = json.loads(text)
    tags = {name: entry["tag"] for name, entry in data.get("default_tags", {}).items()}
    return ModelCatalog((model_from_dict(row) for row in data["models"]), tags)
