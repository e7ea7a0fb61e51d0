"""Looking provisioners up by kind."""

from __future__ import annotations

from typing import cast

import pytest

from flowllama.errors import ConfigError
from flowllama.providers import Provisioner, ProvisionerRegistry


class _Fake:
    kind = "fake"


def fake() -> Provisioner:
    """Stands in for a provisioner: the registry only stores and returns it."""
    return cast(Provisioner, _Fake())


def test_factory_runs_once_and_instance_is_shared() -> None:
    calls: list[int] = []
    registry = ProvisionerRegistry()

    def factory() -> Provisioner:
        calls.append(1)
        return fake()

    registry.register("fake", factory)
    assert registry.get("fake") is registry.get("fake")
    assert calls == [1]
    assert registry.kinds() == ["fake"]


def test_unknown_kind_names_the_known_ones() -> None:
    registry = ProvisionerRegistry()
    registry.register("local", fake)
    with pytest.raises(ConfigError, match=r"'gpu-cloud'.*local"):
        registry.get("gpu-cloud")


def test_registering_twice_needs_replace() -> None:
    registry = ProvisionerRegistry()
    first, second = fake(), fake()
    registry.register("fake", lambda: first)
    with pytest.raises(ConfigError):
        registry.register("fake", lambda: second)
    assert registry.get("fake") is first
    registry.register("fake", lambda: second, replace=True)
    assert registry.get("fake") is second
