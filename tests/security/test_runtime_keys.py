"""Runtime keys: derived per deployment, stable across processes, never printed."""

from __future__ import annotations

import pytest

from flowllama.security.runtime_keys import RuntimeKeys


def test_each_deployment_has_its_own_stable_key() -> None:
    keys = RuntimeKeys("platform secret")
    assert keys.key("dep-a") == RuntimeKeys("platform secret").key("dep-a")  # any process
    assert keys.key("dep-a") != keys.key("dep-b")
    assert keys.key("dep-a") != RuntimeKeys("another secret").key("dep-a")
    assert len(keys.key("dep-a")) == 43 and keys.key("dep-a").isascii()
    assert keys.headers("dep-a") == {"Authorization": f"Bearer {keys.key('dep-a')}"}


def test_the_secret_is_never_printed_and_must_exist() -> None:
    assert "platform secret" not in repr(RuntimeKeys("platform secret"))
    with pytest.raises(ValueError, match="non-empty"):
        RuntimeKeys("")
