"""Settings of the local provisioner: time limits, log caps, and test-time runtime overrides."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flowllama.providers.local.memory import MemorySnapshot, read_memory
from flowllama.runtimes import Runtime
from flowllama.security.runtime_keys import RuntimeKeys

MIB = 1024**2


@dataclass(frozen=True, kw_only=True)
class LocalOptions:
    """How the local provisioner starts, watches and stops runtime processes.

    ``health_timeout_s`` bounds the wait for a new server's health check (a large GGUF file is
    loaded before llama.cpp opens its port, so the default is generous); ``prepare_timeout_s``
    bounds getting the model ready (an Ollama pull); ``probe_timeout_s`` bounds the one health
    request behind ``refresh``. ``stop_grace_s`` is how long a
    runtime may take to exit after SIGTERM before it gets SIGKILL, and ``kill_wait_s`` how long
    to wait after SIGKILL before reporting ``NotYetTerminated``; ``port_wait_s`` how long
    ``destroy`` waits for the port to be released. Each deployment's log keeps at most
    ``log_max_bytes`` per file in ``1 + log_backups`` files. ``runtimes`` replaces the runtime
    of that name (tests point ``ollama`` at another executable); ``threads``, ``keep_alive_s``
    and ``extra_env`` feed :class:`~flowllama.runtimes.RuntimeLaunch`; ``python`` runs the
    supervisors. ``read_memory`` is where the capacity check reads this machine's memory
    (tests pretend to be a small machine). ``runtime_keys`` derives each deployment's runtime
    key: runtimes that support one refuse requests without it, and every request this
    provisioner makes (health, prepare, probe) carries it; a runtime that cannot check it
    (Ollama) runs isolated behind a keyed front (:mod:`.isolation`), and where this machine
    cannot isolate it, it is refused unless ``allow_unisolated`` (single-user hosts only: any
    local process can then call it).
    """

    health_timeout_s: float = 600.0
    prepare_timeout_s: float = 3600.0
    probe_timeout_s: float = 2.0
    stop_grace_s: float = 10.0
    kill_wait_s: float = 5.0
    port_wait_s: float = 5.0
    log_max_bytes: int = 10 * MIB
    log_backups: int = 3
    threads: int | None = None
    keep_alive_s: int | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    runtimes: Mapping[str, Runtime] = field(default_factory=dict)
    python: str = sys.executable
    read_memory: Callable[[], MemorySnapshot] = read_memory
    runtime_keys: RuntimeKeys | None = None
    allow_unisolated: bool = False

    def runtime_key(self, deployment_id: str) -> str | None:
        """The deployment's runtime key, or None when keys are off."""
        return None if self.runtime_keys is None else self.runtime_keys.key(deployment_id)

    def runtime_headers(self, deployment_id: str) -> dict[str, str]:
        """Headers that authenticate this provisioner's requests to the deployment's runtime."""
        return {} if self.runtime_keys is None else self.runtime_keys.headers(deployment_id)

    def __post_init__(self) -> None:
        timeouts = {
            "health_timeout_s": self.health_timeout_s,
            "prepare_timeout_s": self.prepare_timeout_s, "probe_timeout_s": self.probe_timeout_s,
            "stop_grace_s": self.stop_grace_s, "kill_wait_s": self.kill_wait_s,
            "port_wait_s": self.port_wait_s,
        }
        for name, value in timeouts.items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, not {value}")
        if self.log_max_bytes < 1024:
            raise ValueError("log_max_bytes must be at least 1024")
        if not 0 <= self.log_backups <= 100:
            raise ValueError("log_backups must be in 0..100")
        for name, runtime in self.runtimes.items():
            if runtime.name != name:
                raise ValueError(f"runtime override {name!r} is a {runtime.name!r} runtime")
