"""Which provisioner serves a kind (``local``, ``terraform``, ``kubernetes``).

The composition root (the agent's start-up) registers a factory per kind with its configuration;
callers ask :meth:`ProvisionerRegistry.get` by the kind stored in a handle. Factories run once, on
first use, so an unused kind never imports its optional dependencies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from flowllama.errors import ConfigError
from flowllama.providers.base import Provisioner

ProvisionerFactory = Callable[[], Provisioner]


class ProvisionerRegistry:
    """Kind → factory, with one shared instance per kind. Thread-safe."""

    def __init__(self) -> None:
        self._factories: dict[str, ProvisionerFactory] = {}
        self._instances: dict[str, Provisioner] = {}
        self._lock = threading.Lock()

    def register(self, kind: str, factory: ProvisionerFactory, *, replace: bool = False) -> None:
        """Make ``kind`` available; registering a kind twice is an error unless ``replace``."""
        with self._lock:
            if kind in self._factories and not replace:
                raise ConfigError(f"provisioner kind {kind!r} is already registered")
            self._factories[kind] = factory
            self._instances.pop(kind, None)

    def get(self, kind: str) -> Provisioner:
        """The provisioner for ``kind``; :class:`ConfigError` names the known kinds if unknown."""
        with self._lock:
            instance = self._instances.get(kind)
            if instance is not None:
                return instance
            factory = self._factories.get(kind)
            if factory is None:
                known = ", ".join(sorted(self._factories)) or "none"
                raise ConfigError(f"unknown provisioner kind {kind!r} (registered: {known})")
            instance = factory()
            self._instances[kind] = instance
            return instance

    def kinds(self) -> list[str]:
        """The registered kinds, sorted."""
        with self._lock:
            return sorted(self._factories)


default_registry = ProvisionerRegistry()


def register_provisioner(
    kind: str, factory: ProvisionerFactory, *, replace: bool = False
) -> None:
    """Register ``kind`` in the process-wide :data:`default_registry`."""
    default_registry.register(kind, factory, replace=replace)


def get_provisioner(kind: str) -> Provisioner:
    """The provisioner for ``kind`` from the process-wide :data:`default_registry`."""
    return default_registry.get(kind)
