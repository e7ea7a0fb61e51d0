"""Does a deployment fit this machine's memory right now?

The need is the catalog's CPU sizing (weights + KV cache for the context and the slots the
runtime really allocates + compute graph + OS headroom; for ``local/<stem>`` the numbers come
from the GGUF header). The supply is the memory available now (:mod:`.memory`) minus what
live deployments are sized for but do not hold yet (still loading, or an idle model unloaded).

Two refusals, because the agent treats them differently:

* :class:`NotEnoughMemory` (a ``NoCapacity``, retryable): it would fit this machine, just not
  now; memory frees up when another deployment stops, so a later retry can succeed.
* :class:`MachineTooSmall` (``Unsupported``, not retryable): it needs more than the machine has
  in total, so no retry can ever help.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flowllama.catalog.models import ModelCatalog
from flowllama.catalog.sizing import GIB, estimate_memory
from flowllama.errors import NoCapacity, ProviderError
from flowllama.providers.base import DeploymentSpec, Unsupported
from flowllama.providers.local.memory import MemorySnapshot, read_memory
from flowllama.providers.local.resolve import ResolvedModel, resolve_model
from flowllama.runtimes import Runtime


class NotEnoughMemory(NoCapacity):
    """The deployment fits this machine, but not in the memory available now."""


class MachineTooSmall(Unsupported):
    """The deployment needs more memory than this machine has at all."""


@dataclass(frozen=True, slots=True)
class CapacityCheck:
    """The verdict for one deployment: bytes needed, bytes available to it now, and the fit.

    ``available_bytes`` is already net of ``reserved_bytes`` (deployments still loading);
    ``total_bytes`` is the machine's (or container's) total memory.
    """

    model: str
    context_size: int
    parallel: int
    needed_bytes: int
    available_bytes: int
    total_bytes: int
    reserved_bytes: int
    fits: bool

    def message(self) -> str:
        """A sentence with every number, for status messages and API errors."""
        need = (f"{self.model} with a {self.context_size}-token context x {self.parallel} "
                f"slot(s) needs {_gib(self.needed_bytes)} of RAM")
        if self.needed_bytes > self.total_bytes:
            return f"{need}, more than this machine's total of {_gib(self.total_bytes)}"
        held = (f" after {_gib(self.reserved_bytes)} held for other deployments still loading"
                if self.reserved_bytes else "")
        free = f"{_gib(self.available_bytes)} is free now{held} (total {_gib(self.total_bytes)})"
        return f"{need}; {free}" if self.fits else f"{need}, but only {free}"

    def error(self) -> ProviderError | None:
        """The refusal to raise, or ``None`` when it fits."""
        if self.fits:
            return None
        if self.needed_bytes > self.total_bytes:
            return MachineTooSmall(self.message())
        return NotEnoughMemory(self.message())


def required_bytes(resolved: ResolvedModel, context_size: int) -> int:
    """RAM to serve ``resolved`` with ``context_size`` tokens per slot on a CPU-only machine.

    The model is sized as stored (no re-quantization), so any file type works.
    """
    estimate = estimate_memory(resolved.sizing_model, context_size=context_size,
                               parallel=resolved.parallel)
    return estimate.min_ram_bytes


def assess(
    resolved: ResolvedModel,
    context_size: int,
    memory: MemorySnapshot,
    reserved_bytes: int = 0,
) -> CapacityCheck:
    """Compare what ``resolved`` needs with ``memory`` less ``reserved_bytes``."""
    needed = required_bytes(resolved, context_size)
    available = max(0, memory.available_bytes - reserved_bytes)
    return CapacityCheck(
        model=resolved.name, context_size=context_size, parallel=resolved.parallel,
        needed_bytes=needed, available_bytes=available, total_bytes=memory.total_bytes,
        reserved_bytes=reserved_bytes, fits=needed <= available,
    )


def check_capacity(
    spec: DeploymentSpec,
    models_dir: Path,
    *,
    runtimes: Mapping[str, Runtime] | None = None,
    catalog: ModelCatalog | None = None,
    reserved_bytes: int = 0,
    memory: MemorySnapshot | None = None,
) -> CapacityCheck:
    """Whether ``spec`` fits this machine now; side-effect free, so the API can ask first.

    Raises the ``ClientError`` of :func:`~.resolve.resolve_model` for a model or runtime that
    cannot be served here. ``LocalProvisioner.check_capacity`` also counts what deployments
    that are still loading will take.
    """
    resolved = resolve_model(spec, models_dir, runtimes=runtimes, catalog=catalog)
    return assess(resolved, spec.context_size, memory or read_memory(), reserved_bytes)


def _gib(value: int) -> str:
    return f"{value / GIB:.2f} GiB ({value:,} bytes)"
