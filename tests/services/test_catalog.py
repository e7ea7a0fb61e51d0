"""CatalogService: local models re-read only on change; the models table mirrors the catalog."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import Model
from flowllama.services.catalog import CatalogService, sync_models_table


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


def test_sync_models_table(database: Database, tmp_path: Path) -> None:
    service = CatalogService(tmp_path, tmp_path / "models")
    with database.session() as session:
        count = sync_models_table(session, service)
    with database.session() as session:
        sync_models_table(session, service)  # idempotent upsert
        rows = session.scalars(select(Model)).all()
    assert len(rows) == count >= 24
    llama = next(row for row in rows if row.name == "llama3.1:8b")
    assert llama.min_vram_bytes and llama.min_ram_bytes
    assert llama.min_vram_bytes < 8 * 1024**3
    assert llama.context_length == 131072
