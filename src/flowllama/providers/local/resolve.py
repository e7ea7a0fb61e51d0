"""From a deployment's model name to what runs it here: the runtime, the file, the sizing model.

``local/<stem>`` names the GGUF file ``<models_dir>/<stem>.gguf`` (the catalog's name rules keep
it inside the directory; a path is never taken from the user) and is sized from the file's
header. An Ollama tag is sized from the packaged catalog. Every refusal is a ``ClientError``
naming the field at fault, so the API can show it before anything is queued; the provisioner
turns it into a non-retryable error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flowllama.catalog.local_models import read_gguf_model
from flowllama.catalog.models import ModelCatalog, ModelSpec, default_catalog
from flowllama.errors import InvalidInput, NotFound
from flowllama.providers.base import DeploymentSpec
from flowllama.runtimes import ModelNotFound, Runtime, select_runtime
from flowllama.runtimes.model_names import is_local_model, local_model_file


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """What serves ``spec.model`` here.

    ``parallel`` is the number of slots the runtime really allocates (llama.cpp serves one
    request at a time whatever is asked), which is what the memory sizing must use.
    """

    name: str
    runtime: Runtime
    model_file: Path | None
    sizing_model: ModelSpec
    parallel: int


def resolve_model(
    spec: DeploymentSpec,
    models_dir: Path,
    *,
    runtimes: Mapping[str, Runtime] | None = None,
    catalog: ModelCatalog | None = None,
) -> ResolvedModel:
    """Resolve ``spec``'s model and runtime; ``InvalidInput``/``NotFound`` (field ``model`` or
    ``runtime``) when the name, the runtime choice, the file or the catalog entry is wrong.

    ``runtimes`` replaces the selected runtime by name (e.g. Ollama at another executable).
    """
    selected = select_runtime(spec.model, spec.runtime)
    runtime = (runtimes or {}).get(selected.name, selected)
    model_file: Path | None = None
    if is_local_model(spec.model):
        model_file = _local_file(spec.model, models_dir)
        sizing = _read_header(model_file, spec.model)
    else:
        sizing = (catalog or default_catalog()).get(spec.model)
    parallel = min(spec.parallel, runtime.max_parallel or spec.parallel)
    return ResolvedModel(
        name=sizing.name, runtime=runtime, model_file=model_file, sizing_model=sizing,
        parallel=parallel,
    )


def _local_file(name: str, models_dir: Path) -> Path:
    try:
        return local_model_file(name, models_dir)
    except ModelNotFound as exc:
        raise NotFound(str(exc), field="model") from exc


def _read_header(path: Path, name: str) -> ModelSpec:
    try:
        model = read_gguf_model(path, name.strip().lower())
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise InvalidInput(
            f"{path.name} is not a GGUF model FlowLlama can read: {exc}", field="model"
        ) from exc
    return model
