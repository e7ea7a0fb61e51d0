"""Models read from GGUF files on disk, for ``ModelCatalog.with_local_models``.

Only the header and tensor table are read (``gguf.GGUFReader`` maps the file; nothing is loaded
into memory), so a directory of large models scans quickly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gguf import GGUFReader

from flowllama.catalog.models import LOCAL_PREFIX, Architecture, ModelSpec, validate_model_name
from flowllama.catalog.quantization import file_type_name
from flowllama.errors import InvalidInput

log = logging.getLogger(__name__)

# The tensors the old Ollama estimator counts as the "output layer".
_OUTPUT_TENSORS = ("output_norm.weight", "output.weight")


def scan_local_models(models_dir: Path) -> list[ModelSpec]:
    """Every readable ``*.gguf`` directly inside ``models_dir``; a missing dir gives none."""
    if not models_dir.is_dir():
        return []
    found = []
    root = models_dir.resolve()
    for path in sorted(models_dir.glob("*.gguf")):
        # A symlink could point anywhere; only plain files that really live here are read.
        if path.is_symlink() or not path.is_file() or path.resolve().parent != root:
            continue
        try:
            name = validate_model_name(LOCAL_PREFIX + path.stem)
        except InvalidInput:
            log.warning("skipping GGUF file with an unusable name: %s", path.name)
            continue
        try:
            found.append(read_gguf_model(path, name))
        except (OSError, ValueError, KeyError, IndexError) as exc:
            log.warning("skipping unreadable GGUF file %s: %s", path.name, exc)
    return found


def read_gguf_model(path: Path, name: str) -> ModelSpec:
    """A :class:`ModelSpec` from one GGUF file's metadata; ``KeyError`` if a key is missing."""
    reader = GGUFReader(path)
    arch = str(_field(reader, "general.architecture"))
    heads = int(_field(reader, f"{arch}.attention.head_count"))
    embedding = int(_field(reader, f"{arch}.embedding_length"))
    architecture = Architecture(
        arch=arch,
        block_count=int(_field(reader, f"{arch}.block_count")),
        embedding_length=embedding,
        head_count=heads,
        head_count_kv=int(_field(reader, f"{arch}.attention.head_count_kv", heads)),
        head_dim=int(_field(reader, f"{arch}.attention.key_length", embedding // heads)),
        vocab_size=_vocab_size(reader, arch),
        context_length=int(_field(reader, f"{arch}.context_length")),
    )
    file_type = _field(reader, "general.file_type", None)
    return ModelSpec(
        name=name,
        family="local",
        parameters=_parameter_label(reader),
        quantization=file_type_name(int(file_type)) if file_type is not None else "UNKNOWN",
        size_bytes=path.stat().st_size,
        architecture=architecture,
        capabilities=("completion",),
        typical_use="Model file supplied by the operator",
        source={"all": f"GGUF header of {path.name}"},
        local_path=str(path),
        output_bytes=_output_bytes(reader),
    )


_MISSING: Any = object()


def _field(reader: GGUFReader, key: str, default: Any = _MISSING) -> Any:
    entry = reader.fields.get(key)
    if entry is None:
        if default is _MISSING:
            raise KeyError(f"GGUF metadata has no {key}")
        return default
    value = entry.contents()
    # Some writers store scalars as one-element arrays.
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _vocab_size(reader: GGUFReader, arch: str) -> int:
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    if tokens is not None:
        return len(tokens.data)
    explicit = _field(reader, f"{arch}.vocab_size", None)
    if explicit is not None:
        return int(explicit)
    for tensor in reader.tensors:
        if tensor.name == "token_embd.weight":
            return int(max(tensor.shape))
    return 0


def _output_bytes(reader: GGUFReader) -> int:
    sizes = {tensor.name: int(tensor.n_bytes) for tensor in reader.tensors}
    total = sum(sizes.get(name, 0) for name in _OUTPUT_TENSORS)
    if "output.weight" not in sizes:
        # Tied embeddings: the token embedding doubles as the output projection.
        total += sizes.get("token_embd.weight", 0)
    return total


def _parameter_label(reader: GGUFReader) -> str:
    count = sum(int(tensor.n_elements) for tensor in reader.tensors)
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B"
    return f"{count / 1e6:.1f}M"
