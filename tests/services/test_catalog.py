"""CatalogService: local models re-read only on change."""

from __future__ import annotations

import shutil
from pathlib import Path

from flowllama.services.catalog import CatalogService


def test_local_models_follow_the_directory(tmp_path: Path, tiny_model_file: Path) -> None:
    service = CatalogService(tmp_path, tmp_path / "models")
    first = service.models()
    assert "local/tiny" not in first
    assert service.models() is first  # unchanged directory: same catalog object (warm caches)
    (tmp_path / "models").mkdir()
    shutil.copy(tiny_model_file, tmp_path / "models" / "tiny.gguf")
    assert "local/tiny" in service.models()
    (tmp_path / "models" / "tiny.gguf").unlink()
    assert "local/tiny" not in service.models()
