"""llama.cpp through llama-cpp-python's OpenAI-compatible server, for GGUF files.

The server loads its one model before it opens the port, so "healthy" already means "loaded".
It runs one generation at a time: concurrent requests wait on a lock inside the server (we turn
off its default of interrupting a running stream when a new request arrives), so
``max_parallel`` is 1 whatever ``RuntimeLaunch.parallel`` says. It ignores
``stream_options.include_usage``: streamed responses carry no usage, so ``streams_usage`` is
False and the gateway counts streamed tokens itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path

import httpx

from flowllama.runtimes.base import (
    DEFAULT_PREPARE_TIMEOUT_S,
    ProgressCallback,
    PullProgress,
    Runtime,
    RuntimeLaunch,
)
from flowllama.runtimes.environment import runtime_environment
from flowllama.runtimes.errors import ModelNotFound, ModelPullFailed
from flowllama.runtimes.model_names import local_model_file

# llama_cpp itself plus what its server imports; without the extras the process dies at once.
REQUIRED_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context",
                    "pydantic_settings")
SERVER_MODULE = "llama_cpp.server"


class LlamaCppRuntime(Runtime):
    """``python -m llama_cpp.server`` on one GGUF file, run by this interpreter."""

    name = "llamacpp"
    health_path = "/v1/models"
    native_api_prefix = None
    install_hint = (
        "Install it with `pip install 'flowllama[llamacpp]'` (prebuilt CPU wheels: add "
        "`--extra-index-url https://abetlen.github.io/llama-cpp-python/whl/cpu`)."
    )
    max_parallel = 1
    streams_usage = False
    enforces_api_key = True

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    def is_installed(self) -> bool:
        return all(find_spec(module) is not None for module in REQUIRED_MODULES)

    def model_file(self, launch: RuntimeLaunch) -> Path:
        """The GGUF file to serve: ``launch.model_path``, else the ``local/<stem>`` file."""
        if launch.model_path is not None:
            if not launch.model_path.is_file():
                raise ModelNotFound(f"GGUF file {launch.model_path} does not exist")
            return launch.model_path
        return local_model_file(launch.model, launch.models_dir)

    def command(self, launch: RuntimeLaunch) -> list[str]:
        self.ensure_installed()
        threads = str(launch.threads or os.cpu_count() or 1)
        return [
            self.python, "-m", SERVER_MODULE,
            "--model", str(self.model_file(launch)),
            # Clients (and the gateway) ask for the FlowLlama model name, not the file path.
            "--model_alias", launch.model,
            "--host", launch.host,
            "--port", str(launch.port),
            "--n_ctx", str(launch.context_size),
            # The server's default is a single thread, far too few for serving.
            "--n_threads", threads,
            "--n_threads_batch", threads,
            # Offload every layer when the wheel has GPU support; a CPU build ignores it.
            "--n_gpu_layers", "-1",
            # Its default cancels a running stream whenever another request arrives.
            "--interrupt_requests", "false",
        ]

    def environment(
        self, launch: RuntimeLaunch, source: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        # Unbuffered output so the provisioner's log capture sees load errors before an exit.
        managed = {"PYTHONUNBUFFERED": "1"}
        if launch.api_key is not None:
            # The server's settings read API_KEY: the environment is private to its owner,
            # unlike the command line, which any local user can read.
            managed["API_KEY"] = launch.api_key
        return runtime_environment(managed, launch.extra_env, source)

    def prepare(
        self,
        client: httpx.Client,
        model: str,
        progress: ProgressCallback | None = None,
        *,
        timeout_s: float = DEFAULT_PREPARE_TIMEOUT_S,
    ) -> None:
        """Check that the server lists ``model``: it was loaded at start, nothing to pull."""
        try:
            response = client.get(self.health_path, timeout=timeout_s)
            response.raise_for_status()
            served = [entry.get("id") for entry in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise ModelPullFailed(f"Could not list the llama.cpp server's models: {exc}") from exc
        if model not in served:
            raise ModelNotFound(f"The llama.cpp server serves {served}, not {model!r}")
        if progress is not None:
            progress(PullProgress("ready", 1.0))
