"""LoopHealth's exported last-success series: present from a loop's registration, so a loop
that never succeeds is visible to the ``FlowLlamaLoopStalled`` alert."""

from __future__ import annotations

import time
import uuid

from flowllama.loops import LoopHealth
from flowllama.metrics import REGISTRY

SERIES = "flowllama_loop_last_success_timestamp_seconds"


def _last_success(name: str) -> float | None:
    return REGISTRY.get_sample_value(SERIES, {"loop": name})


def test_a_loop_that_never_succeeded_has_a_series_from_its_registration() -> None:
    name = f"never-{uuid.uuid4().hex[:8]}"
    before = time.time()
    beat = LoopHealth().register(name)
    beat.failed(ConnectionError("database down"))
    beat.failed(ConnectionError("database down"))
    sample = _last_success(name)
    assert sample is not None, "no series: the stalled-loop alert could never fire"
    assert before <= sample <= time.time()


def test_registering_again_never_moves_the_series_back_before_a_success() -> None:
    name = f"restarted-{uuid.uuid4().hex[:8]}"
    loops = LoopHealth()
    loops.register(name)
    first = _last_success(name)
    time.sleep(0.01)
    loops.register(name).succeeded()
    succeeded = _last_success(name)
    assert first is not None and succeeded is not None and succeeded > first
    LoopHealth().register(name)  # a restarted loop, or another platform in this process
    assert _last_success(name) == succeeded
