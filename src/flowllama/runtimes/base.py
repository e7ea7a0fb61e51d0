"""The Runtime interface: how FlowLlama starts, checks and feeds one kind of inference server.

A runtime describes a server; it does not own its process. The local provisioner (or a cloud
image's supervisor) starts ``command(launch)`` with ``environment(launch)``, waits for
``health_path`` with :func:`flowllama.runtimes.health.wait_healthy`, then calls ``prepare`` so
the model is on disk and loaded before the instance takes traffic. The gateway sends OpenAI
requests to ``base_url + openai_base_path`` with ``model`` set to the FlowLlama model name.
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx

from flowllama.runtimes.errors import RuntimeNotInstalled

DEFAULT_PREPARE_TIMEOUT_S = 3600.0


@dataclass(frozen=True, slots=True)
class RuntimeLaunch:
    """Everything a runtime needs to build its command line and environment.

    ``model`` is the FlowLlama model name (an Ollama tag, or ``local/<stem>`` for a GGUF file
    in ``models_dir``); ``model_path`` overrides where that GGUF file is. ``keep_alive_s`` is
    how long an idle model stays in memory (None: the runtime's default; negative: forever).
    ``threads`` is the CPU thread count (None: every core). ``extra_env`` lets an operator tune
    a runtime (e.g. ``OLLAMA_FLASH_ATTENTION``) but never override what FlowLlama manages.
    ``api_key`` is the deployment's runtime key (:mod:`flowllama.security.runtime_keys`): a
    runtime that supports one refuses requests without it; it never appears in ``command()``
    (a command line is world-readable), only in ``environment()``.
    """

    port: int
    model: str
    models_dir: Path
    context_size: int = 4096
    parallel: int = 1
    keep_alive_s: int | None = None
    host: str = "127.0.0.1"
    threads: int | None = None
    model_path: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1..65535, not {self.port}")
        # An IP literal keeps the address usable verbatim in OLLAMA_HOST and --host.
        ipaddress.ip_address(self.host)
        if self.context_size < 1 or self.parallel < 1:
            raise ValueError("context_size and parallel must be at least 1")
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be at least 1")
        if not self.model:
            raise ValueError("model must not be empty")

    @property
    def base_url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:11434``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PullProgress:
    """One step of getting a model ready: a status line and, when known, a 0..1 fraction."""

    status: str
    fraction: float | None = None
    completed_bytes: int = 0
    total_bytes: int = 0


ProgressCallback = Callable[[PullProgress], None]


class Runtime(ABC):
    """One kind of inference server. Subclasses are stateless and cheap to construct."""

    name: ClassVar[str]
    health_path: ClassVar[str]
    openai_base_path: ClassVar[str] = "/v1"
    native_api_prefix: ClassVar[str | None] = None
    install_hint: ClassVar[str]
    # Requests one process serves at once (None: as many as ``RuntimeLaunch.parallel``);
    # beyond that they queue inside the server.
    max_parallel: ClassVar[int | None] = None
    # Whether a streamed chat completion ends with a usage chunk when the request asks for
    # ``stream_options={"include_usage": true}``; if not, the gateway must count tokens itself.
    streams_usage: ClassVar[bool] = True
    # Whether the server refuses requests without ``RuntimeLaunch.api_key``. Else the local
    # provisioner runs it isolated behind a keyed front (providers/local/isolation.py), and a
    # cloud relies on a private subnet.
    enforces_api_key: ClassVar[bool] = False

    @abstractmethod
    def is_installed(self) -> bool:
        """Whether this machine can run the server (checked quickly, nothing is started)."""

    def ensure_installed(self) -> None:
        """Raise ``RuntimeNotInstalled`` with the install hint unless ``is_installed()``."""
        if not self.is_installed():
            raise RuntimeNotInstalled(
                f"The {self.name} runtime is not installed on this machine. {self.install_hint}"
            )

    @abstractmethod
    def command(self, launch: RuntimeLaunch) -> list[str]:
        """The server's argument list (never a shell string).

        Raises ``RuntimeNotInstalled`` or ``ModelNotFound`` before anything is started, so a
        launch that cannot work fails at once instead of as a dead process or a hang.
        """

    @abstractmethod
    def environment(
        self, launch: RuntimeLaunch, source: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The complete environment for the server process (``source`` defaults to ours)."""

    @abstractmethod
    def prepare(
        self,
        client: httpx.Client,
        model: str,
        progress: ProgressCallback | None = None,
        *,
        timeout_s: float = DEFAULT_PREPARE_TIMEOUT_S,
    ) -> None:
        """Make ``model`` ready to serve on a healthy server that ``client`` points at.

        ``client.base_url`` is the server root. ``progress`` receives every step and a final
        fraction of 1.0. Raises ``ModelNotFound`` or ``ModelPullFailed``, including when the
        work takes longer than ``timeout_s`` (checked whenever the server reports progress; a
        silent server is cut off by the read timeout).
        """

    def openai_base_url(self, launch: RuntimeLaunch) -> str:
        """Where OpenAI clients point for this launch, e.g. ``http://127.0.0.1:8081/v1``."""
        return launch.base_url + self.openai_base_path

    def health_url(self, launch: RuntimeLaunch) -> str:
        """The full URL of the health check for this launch."""
        return launch.base_url + self.health_path
