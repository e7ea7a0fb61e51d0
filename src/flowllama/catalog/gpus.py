"""GPU types FlowLlama sizes and prices, with the memory each one exposes to a process.

Memory is the smallest figure the clouds report for the type (AWS reports L4 and A10G as
22,888 MiB, GCP reports L4 as 24 GiB); sizing against the smaller one keeps a fit valid on both.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowllama.errors import InvalidInput

MIB = 1024**2


@dataclass(frozen=True, slots=True)
class GpuType:
    """One GPU model: catalog name, user-facing family, usable and marketed memory per GPU."""

    name: str
    family: str
    memory_mib: int
    nominal_gb: int

    @property
    def memory_bytes(self) -> int:
        """Usable memory of one GPU in bytes."""
        return self.memory_mib * MIB


GPU_TYPES: dict[str, GpuType] = {
    gpu.name: gpu
    for gpu in (
        GpuType("P4", "P4", 8192, 8),
        GpuType("T4", "T4", 16384, 16),
        GpuType("P100", "P100", 16384, 16),
        GpuType("V100", "V100", 16384, 16),
        GpuType("L4", "L4", 22888, 24),
        GpuType("A10G", "A10G", 22888, 24),
        GpuType("L40S", "L40S", 45776, 48),
        GpuType("A100", "A100", 40960, 40),
        GpuType("A100-80GB", "A100-80GB", 81920, 80),
        GpuType("H100", "H100", 81920, 80),
        # a3-megagpu: the same H100 80 GB with more network bandwidth.
        GpuType("H100-MEGA", "H100", 81920, 80),
        GpuType("H200", "H200", 144384, 141),
    )
}
"""Every GPU type that appears in the price catalog, by catalog name."""

SIZING_TABLE: tuple[str, ...] = (
    "T4", "V100", "L4", "A10G", "L40S", "A100", "A100-80GB", "H100", "H200",
)
"""The GPU types reported in a memory estimate, smallest first."""

GPU_PREFERENCES: tuple[str, ...] = (
    "auto", "none", "T4", "V100", "L4", "A10G", "L40S", "A100", "A100-80GB", "H100", "H200",
)
"""Accepted values of an estimate's ``gpu`` field."""

_ALIASES = {"A100-40GB": "A100", "A100_80GB": "A100-80GB", "A100-80G": "A100-80GB", "CPU": "none"}


def normalize_gpu_preference(value: str) -> str:
    """Canonical GPU preference (``a10g`` -> ``A10G``); raises ``InvalidInput`` if unknown."""
    upper = value.strip().upper()
    upper = _ALIASES.get(upper, upper)
    for choice in GPU_PREFERENCES:
        if choice.upper() == upper.upper():
            return choice
    raise InvalidInput(
        f"Unknown GPU {value!r}; use one of {', '.join(GPU_PREFERENCES)}", field="gpu"
    )
