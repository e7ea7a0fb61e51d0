"""Ollama, the primary runtime: ``ollama serve`` configured entirely through its environment.

One server serves one deployment: it listens on ``OLLAMA_HOST``, keeps blobs in
``OLLAMA_MODELS``, and gets the deployment's context size, parallel slots and keep-alive as
server defaults, so every request (OpenAI or native) runs with them. ``prepare`` pulls the tag
(with progress) and then loads it, so the first user request does not pay the load.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping

import httpx

from flowllama.runtimes.base import (
    DEFAULT_PREPARE_TIMEOUT_S,
    ProgressCallback,
    PullProgress,
    Runtime,
    RuntimeLaunch,
)
from flowllama.runtimes.environment import runtime_environment
from flowllama.runtimes.errors import ModelPullFailed, RuntimeNotInstalled
from flowllama.runtimes.ollama_pull import CONNECT_TIMEOUT_S, pull_model


class OllamaRuntime(Runtime):
    """``ollama serve``; ``executable`` is a name looked up on PATH or an absolute path."""

    name = "ollama"
    health_path = "/api/tags"
    native_api_prefix = "/api"
    install_hint = (
        "Install Ollama from https://ollama.com/download (Linux: "
        "`curl -fsSL https://ollama.com/install.sh | sh`) so that `ollama` is on PATH."
    )

    def __init__(self, executable: str = "ollama") -> None:
        self.executable = executable

    def is_installed(self) -> bool:
        return shutil.which(self.executable) is not None

    def command(self, launch: RuntimeLaunch) -> list[str]:
        binary = shutil.which(self.executable)
        if binary is None:
            raise RuntimeNotInstalled(
                f"The ollama runtime is not installed on this machine "
                f"({self.executable!r} was not found). {self.install_hint}"
            )
        return [binary, "serve"]

    def environment(
        self, launch: RuntimeLaunch, source: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        host = f"[{launch.host}]" if ":" in launch.host else launch.host
        managed = {
            "OLLAMA_HOST": f"{host}:{launch.port}",
            "OLLAMA_MODELS": str(launch.models_dir),
            "OLLAMA_CONTEXT_LENGTH": str(launch.context_size),
            "OLLAMA_NUM_PARALLEL": str(launch.parallel),
            # One deployment per server: a second model would break the memory sizing.
            "OLLAMA_MAX_LOADED_MODELS": "1",
        }
        if launch.keep_alive_s is not None:
            # Ollama reads a bare integer as seconds, and a negative one as "forever".
            managed["OLLAMA_KEEP_ALIVE"] = str(launch.keep_alive_s)
        return runtime_environment(managed, launch.extra_env, source)

    def prepare(
        self,
        client: httpx.Client,
        model: str,
        progress: ProgressCallback | None = None,
        *,
        timeout_s: float = DEFAULT_PREPARE_TIMEOUT_S,
    ) -> None:
        deadline = time.monotonic() + timeout_s
        pull_model(client, model, progress, timeout_s=timeout_s)
        _report(progress, PullProgress("loading model", 1.0))
        load_model(client, model, timeout_s=max(1.0, deadline - time.monotonic()))
        _report(progress, PullProgress("ready", 1.0))


def load_model(client: httpx.Client, model: str, *, timeout_s: float) -> None:
    """Load ``model`` into memory: Ollama loads (and generates nothing) for an empty prompt."""
    body = {"model": model, "prompt": "", "stream": False}
    try:
        response = client.post(
            "/api/generate", json=body, timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        )
    except httpx.HTTPError as exc:
        raise ModelPullFailed(f"Loading {model} failed: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise ModelPullFailed(
            f"Loading {model} failed: HTTP {response.status_code} {response.text[:200]}"
        )


def _report(progress: ProgressCallback | None, step: PullProgress) -> None:
    if progress is not None:
        progress(step)
