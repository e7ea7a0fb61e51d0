"""The model catalog (packaged models plus local GGUF files) and price-aware estimates.

Local models are re-read only when the models directory changes (names, sizes, mtimes), so a
request never parses GGUF headers it has already read, and the optimizer's caches stay warm.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from flowllama.catalog.models import ModelCatalog, ModelSpec, default_catalog
from flowllama.catalog.optimizer import EstimateRequest, EstimateResult, estimate
from flowllama.catalog.prices import PriceCatalog
from flowllama.catalog.refresh import current_prices
from flowllama.catalog.sizing import MemoryEstimate, estimate_memory

# Sizing stored per model: Ollama's default context for small GPUs, one slot.
REFERENCE_CONTEXT = 4096

_result_json = TypeAdapter(EstimateResult)
_sizing_json = TypeAdapter(MemoryEstimate)

DirSignature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class ModelView:
    """A model as the API shows it: catalog facts plus reference sizing (no server paths)."""

    spec: ModelSpec
    sizing: MemoryEstimate

    def to_json(self) -> dict[str, Any]:
        spec = self.spec
        arch = spec.architecture
        return {
            "name": spec.name, "family": spec.family, "parameters": spec.parameters,
            "parameter_count": spec.parameter_count, "quantization": spec.quantization,
            "size_bytes": spec.size_bytes, "capabilities": list(spec.capabilities),
            "typical_use": spec.typical_use, "hf_model_id": spec.hf_model_id,
            "context_length": arch.context_length, "local": spec.local_path is not None,
            "architecture": {
                "arch": arch.arch, "layers": arch.block_count,
                "embedding_length": arch.embedding_length, "attention_heads": arch.head_count,
                "kv_heads": arch.head_count_kv, "head_dim": arch.head_dim,
                "vocab_size": arch.vocab_size, "context_length": arch.context_length,
            },
            "min_vram_bytes": self.sizing.min_vram_bytes,
            "min_ram_bytes": self.sizing.min_ram_bytes,
            "sizing_context": self.sizing.context_size,
            "source": dict(spec.source), "notes": spec.notes,
        }


class CatalogService:
    """Models and estimates for one data dir; safe to share between threads."""

    def __init__(self, data_dir: Path, models_dir: Path) -> None:
        self.data_dir = data_dir
        self.models_dir = models_dir
        self._lock = threading.Lock()
        self._signature: DirSignature | None = None
        self._catalog: ModelCatalog = default_catalog()

    def _dir_signature(self) -> DirSignature:
        try:
            files = sorted(self.models_dir.glob("*.gguf"))
        except OSError:
            return ()
        entries = []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((path.name, stat.st_size, stat.st_mtime_ns))
        return tuple(entries)

    def models(self) -> ModelCatalog:
        signature = self._dir_signature()
        with self._lock:
            if signature != self._signature:
                self._catalog = default_catalog().with_local_models(self.models_dir)
                self._signature = signature
            return self._catalog

    def view(self, name: str) -> ModelView:
        """One model with its reference sizing; ``NotFound`` lists close names."""
        spec = self.models().get(name)
        context = min(REFERENCE_CONTEXT, spec.architecture.context_length)
        return ModelView(spec, estimate_memory(spec, context_size=context))

    def views(self, family: str | None = None) -> list[ModelView]:
        catalog = self.models()
        specs = catalog.by_family(family) if family else catalog.all()
        return [self.view(spec.name) for spec in specs]

    def prices(self) -> PriceCatalog:
        return current_prices(data_dir=self.data_dir)

    def estimate(self, request: EstimateRequest) -> EstimateResult:
        return estimate(request, models=self.models(), prices=self.prices())


def result_json(result: EstimateResult) -> dict[str, Any]:
    """An estimate as JSON-ready data (what the API returns and deployments store)."""
    data: dict[str, Any] = _result_json.dump_python(result, mode="json")
    return data


def sizing_json(sizing: MemoryEstimate) -> dict[str, Any]:
    data: dict[str, Any] = _sizing_json.dump_python(sizing, mode="json")
    return data
