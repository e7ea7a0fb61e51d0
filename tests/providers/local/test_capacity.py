"""The capacity verdict: sizing against available memory, with every number in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.errors import NoCapacity
from flowllama.providers import DeploymentSpec, Unsupported
from flowllama.providers.local.capacity import (
    MachineTooSmall,
    NotEnoughMemory,
    assess,
    check_capacity,
    required_bytes,
)
from flowllama.providers.local.memory import MemorySnapshot
from flowllama.providers.local.resolve import ResolvedModel, resolve_model

GIB = 1024**3


def _spec(**changes: object) -> DeploymentSpec:
    fields: dict[str, object] = {"deployment_id": "d1", "user_id": "u1", "name": "n",
                                 "model": "local/tiny", "context_size": 512, **changes}
    return DeploymentSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def tiny(tiny_model_file: Path) -> ResolvedModel:
    return resolve_model(_spec(), tiny_model_file.parent)


def test_the_need_is_the_cpu_sizing_and_grows_with_the_context(tiny: ResolvedModel) -> None:
    small = required_bytes(tiny, 512)
    assert GIB < small < 2 * GIB  # a tiny file plus the OS headroom
    assert required_bytes(tiny, 8192) > small


def test_llamacpp_is_sized_for_the_one_slot_it_really_allocates(tiny_model_file: Path) -> None:
    one = resolve_model(_spec(parallel=1), tiny_model_file.parent)
    four = resolve_model(_spec(parallel=4), tiny_model_file.parent)
    assert required_bytes(one, 4096) == required_bytes(four, 4096)


def test_it_fits(tiny: ResolvedModel) -> None:
    check = assess(tiny, 512, MemorySnapshot(16 * GIB, 8 * GIB, "test"))
    assert check.fits and check.error() is None
    assert "; 8.00 GiB (8,589,934,592 bytes) is free now (total 16.00 GiB" in check.message()


def test_not_enough_memory_now_is_retryable_with_the_numbers(tiny: ResolvedModel) -> None:
    check = assess(tiny, 512, MemorySnapshot(8 * GIB, GIB // 2, "test"))
    needed = required_bytes(tiny, 512)
    error = check.error()
    assert isinstance(error, NotEnoughMemory) and isinstance(error, NoCapacity)
    assert error.retryable
    message = str(error)
    assert f"needs {needed / GIB:.2f} GiB ({needed:,} bytes) of RAM" in message
    assert "but only 0.50 GiB (536,870,912 bytes) is free now" in message
    assert "total 8.00 GiB" in message
    assert "local/tiny with a 512-token context x 1 slot(s)" in message


def test_memory_held_for_loading_deployments_is_counted(tiny: ResolvedModel) -> None:
    check = assess(tiny, 512, MemorySnapshot(8 * GIB, 2 * GIB, "test"), reserved_bytes=GIB)
    assert not check.fits
    assert check.available_bytes == GIB
    assert "after 1.00 GiB (1,073,741,824 bytes) held for other deployments" in check.message()


def test_a_machine_too_small_is_never_retried(tiny: ResolvedModel) -> None:
    check = assess(tiny, 512, MemorySnapshot(GIB // 2, GIB // 4, "test"))
    error = check.error()
    assert isinstance(error, MachineTooSmall) and isinstance(error, Unsupported)
    assert not error.retryable
    assert "more than this machine's total of 0.50 GiB" in str(error)


def test_check_capacity_is_side_effect_free_and_takes_a_snapshot(tiny_model_file: Path) -> None:
    check = check_capacity(_spec(), tiny_model_file.parent,
                           memory=MemorySnapshot(4 * GIB, 3 * GIB, "test"))
    assert check.fits and check.total_bytes == 4 * GIB
