"""The local provisioner: deployments as supervised runtime processes on this machine.

See :mod:`.provisioner` and ``docs/runtimes.md`` ("Local provisioner").

The exports load lazily: ``python -m flowllama.providers.local.supervisor`` imports this package
first, and a supervisor must start in milliseconds with the standard library alone, not pull in
the catalog, httpx and structlog.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowllama.providers.local.capacity import (
        CapacityCheck,
        MachineTooSmall,
        NotEnoughMemory,
    )
    from flowllama.providers.local.memory import MemorySnapshot
    from flowllama.providers.local.options import LocalOptions
    from flowllama.providers.local.provisioner import (
        LOCAL_PLACEMENT,
        LocalProvisioner,
        ProgressListener,
    )

_EXPORTS = {
    "CapacityCheck": "capacity",
    "MachineTooSmall": "capacity",
    "NotEnoughMemory": "capacity",
    "MemorySnapshot": "memory",
    "LocalOptions": "options",
    "LOCAL_PLACEMENT": "provisioner",
    "LocalProvisioner": "provisioner",
    "ProgressListener": "provisioner",
}

__all__ = [
    "LOCAL_PLACEMENT",
    "CapacityCheck",
    "LocalOptions",
    "LocalProvisioner",
    "MachineTooSmall",
    "MemorySnapshot",
    "NotEnoughMemory",
    "ProgressListener",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
