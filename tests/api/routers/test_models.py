"""``/api/models``: packaged catalog and local GGUF models, with 404s that suggest names."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from flowllama.platform import Platform

REQUIRED = {
    "llama3.2:1b", "llama3.2:3b", "llama3.1:8b", "llama3.1:70b", "llama3.3:70b", "mistral:7b",
    "mistral-small:24b", "qwen2.5:0.5b", "qwen2.5:72b", "deepseek-r1:1.5b", "deepseek-r1:70b",
    "gemma2:2b", "gemma2:9b", "gemma2:27b", "phi3:mini",
}


def test_lists_required_models_with_sizing(client: TestClient) -> None:
    body = client.get("/api/models").json()
    names = {item["name"] for item in body["items"]}
    assert names >= REQUIRED
    assert {"llama", "qwen2", "gemma2"} & set(body["families"])
    llama = next(item for item in body["items"] if item["name"] == "llama3.1:8b")
    assert llama["architecture"]["layers"] == 32
    assert llama["architecture"]["kv_heads"] == 8
    assert llama["context_length"] == 131072
    assert 0 < llama["min_vram_bytes"] < llama["min_ram_bytes"]
    assert llama["source"]


def test_get_one_and_unknown_suggests(client: TestClient) -> None:
    assert client.get("/api/models/qwen2.5:7b").json()["name"] == "qwen2.5:7b"
    missing = client.get("/api/models/llama3.1:9b")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["field"] == "model"
    assert "llama3.1:8b" in error["message"]


def test_path_like_names_are_refused(client: TestClient) -> None:
    for name in ("local/../../etc/passwd", "local/%2e%2e/x"):
        response = client.get(f"/api/models/{name}")
        assert response.status_code in (404, 422)


def test_local_gguf_joins_catalog(client: TestClient, platform: Platform,
                                  tiny_model_file: Path) -> None:
    models_dir = platform.settings.effective_models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_model_file, models_dir / "tiny.gguf")
    body = client.get("/api/models/local/tiny").json()
    assert body["name"] == "local/tiny"
    assert body["local"] is True
    assert body["architecture"]["arch"] == "llama"
    assert "path" not in str(body).lower() or str(models_dir) not in str(body)
