"""The local provisioner's options refuse values that would hang or misbehave."""

from __future__ import annotations

import pytest

from flowllama.providers.local.memory import read_memory
from flowllama.providers.local.options import LocalOptions
from flowllama.runtimes import LlamaCppRuntime, OllamaRuntime


def test_defaults() -> None:
    options = LocalOptions()
    assert options.health_timeout_s > options.probe_timeout_s > 0
    assert options.read_memory is read_memory
    assert options.runtimes == {}


@pytest.mark.parametrize("field", ["health_timeout_s", "prepare_timeout_s", "probe_timeout_s",
                                   "stop_grace_s", "kill_wait_s", "port_wait_s"])
def test_time_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LocalOptions(**{field: 0})  # type: ignore[arg-type]


def test_log_caps_are_bounded() -> None:
    with pytest.raises(ValueError, match="log_max_bytes"):
        LocalOptions(log_max_bytes=10)
    with pytest.raises(ValueError, match="log_backups"):
        LocalOptions(log_backups=101)


def test_a_runtime_override_must_be_the_runtime_it_replaces() -> None:
    LocalOptions(runtimes={"ollama": OllamaRuntime("/opt/ollama")})
    with pytest.raises(ValueError, match="llamacpp"):
        LocalOptions(runtimes={"ollama": LlamaCppRuntime()})
