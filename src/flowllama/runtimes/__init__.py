"""Inference runtimes: how to start, check and load a model into each kind of server.

See ``docs/runtimes.md``. The provisioners own the processes; this package only describes them.
"""

from flowllama.runtimes.base import (
    ProgressCallback,
    PullProgress,
    Runtime,
    RuntimeLaunch,
)
from flowllama.runtimes.errors import (
    ModelNotFound,
    ModelPullFailed,
    RuntimeExited,
    RuntimeNotInstalled,
    RuntimeStartTimeout,
)
from flowllama.runtimes.health import wait_healthy
from flowllama.runtimes.llamacpp import LlamaCppRuntime
from flowllama.runtimes.ollama import OllamaRuntime
from flowllama.runtimes.selection import (
    RUNTIME_NAMES,
    RuntimeChoice,
    RuntimeName,
    get_runtime,
    select_runtime,
)

__all__ = [
    "RUNTIME_NAMES",
    "LlamaCppRuntime",
    "ModelNotFound",
    "ModelPullFailed",
    "OllamaRuntime",
    "ProgressCallback",
    "PullProgress",
    "Runtime",
    "RuntimeChoice",
    "RuntimeExited",
    "RuntimeLaunch",
    "RuntimeName",
    "RuntimeNotInstalled",
    "RuntimeStartTimeout",
    "get_runtime",
    "select_runtime",
    "wait_healthy",
]
