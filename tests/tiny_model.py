"""Shared test helpers for real inference: the tiny GGUF model and a llama.cpp server for it.

``tiny_model_file`` writes the model once per test session (per xdist worker) into the
session's temporary directory; ``serve_tiny_model`` runs llama-cpp-python's server on it on a
free loopback port and always stops it. Tests that start a server are marked ``slow``.

Register the fixture for the whole suite with ``pytest_plugins = ["tiny_model"]`` in the root
conftest, or call :func:`tiny_model_path` from a fixture of your own.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from flowllama.devtools.tiny_model import write_tiny_model
from flowllama.providers.local.supervision import free_port, port_is_free
from flowllama.runtimes import LlamaCppRuntime, RuntimeLaunch, wait_healthy

# free_port and port_is_free are imported from here by tests; the package owns them.
__all__ = ["TinyServer", "free_port", "port_is_free", "serve_tiny_model", "stop_process",
           "tiny_model_file", "tiny_model_path"]

TINY_MODEL_NAME = "local/tiny"
TINY_MODEL_FILE = "tiny.gguf"
# Small enough to start fast, large enough for any chat prompt a test sends.
TINY_CONTEXT = 512


def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's tiny model (``<dir>/tiny.gguf``, served as ``local/tiny``); made once."""
    path = tmp_path_factory.getbasetemp() / "tiny-models" / TINY_MODEL_FILE
    if not path.is_file():
        write_tiny_model(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the session's tiny GGUF model; its directory is a models dir for ``local/tiny``."""
    return tiny_model_path(tmp_path_factory)


@dataclass(frozen=True)
class TinyServer:
    """A running llama.cpp server for the tiny model."""

    base_url: str
    openai_base_url: str
    model: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def serve_tiny_model(
    model_file: Path, log_dir: Path, *, context_size: int = TINY_CONTEXT,
    start_timeout_s: float = 60.0,
) -> Iterator[TinyServer]:
    """Run llama-cpp-python's server on ``model_file`` (as ``local/<stem>``) until exit.

    The server's output goes to a log file (a pipe nobody reads would fill and stall it) whose
    tail is shown when the server fails to start. Skips the test if llama.cpp is missing.
    """
    runtime = LlamaCppRuntime()
    if not runtime.is_installed():
        pytest.skip(f"llama.cpp runtime not installed: {runtime.install_hint}")
    launch = RuntimeLaunch(
        port=free_port(), model=f"local/{model_file.stem}", models_dir=model_file.parent,
        context_size=context_size, threads=1,
    )
    log_path = log_dir / f"llamacpp-{launch.port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            runtime.command(launch), env=runtime.environment(launch),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        try:
            wait_healthy(launch.base_url, runtime.health_path, start_timeout_s, process)
        except Exception as exc:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"llama.cpp server did not start: {exc}\n{tail}") from exc
        yield TinyServer(
            base_url=launch.base_url, openai_base_url=runtime.openai_base_url(launch),
            model=launch.model, port=launch.port, process=process, log_path=log_path,
        )
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``; always reaps it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)
