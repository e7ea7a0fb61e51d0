"""Background loops that survive failures: capped, jittered backoff, and a per-process record
of each loop's health that ``/ready`` and ``/metrics`` read (see ``docs/operations.md``)."""

from flowllama.loops.backoff import Backoff
from flowllama.loops.health import Beat, LoopHealth
from flowllama.loops.runner import supervise

__all__ = ["Backoff", "Beat", "LoopHealth", "supervise"]
