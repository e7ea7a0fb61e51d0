"""Fixtures for the Helm chart's checks: the offline helm binary and the chart rendered once
per ``ci/*.yaml`` values file. A missing tool skips with the reason, except under CI (``CI``
set), where it fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deploy.helm.chart_objects import CHART, Objects, unavailable
from flowllama.devtools.helm_tool import helm_binary, helm_template, rendered_objects
from flowllama.devtools.tools_cache import ToolUnavailable


@pytest.fixture(scope="session")
def helm() -> Path:
    try:
        return helm_binary()
    except ToolUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def render(helm: Path) -> Callable[[str], Objects]:
    """``render("ollama-values")``: the chart's objects for ``ci/<name>.yaml`` (cached)."""
    cache: dict[str, Objects] = {}

    def _render(name: str) -> Objects:
        if name not in cache:
            result = helm_template(CHART, [CHART / "ci" / f"{name}.yaml"], helm=helm)
            assert result.ok, result.stderr
            cache[name] = rendered_objects(result.stdout)
        return cache[name]

    return _render
