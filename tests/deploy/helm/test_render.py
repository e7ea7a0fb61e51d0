"""The chart for real with helm 3.18 (offline, from its PyPI wheel): lint --strict and render
every ci/*.yaml; every rendered object passes kubernetes-validate --strict on two Kubernetes
versions, and the Prometheus Operator objects pass their CRD schemas (jsonschema)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deploy.helm.chart_objects import CHART, CI_VALUES, Objects, unavailable
from flowllama.devtools.crd_schemas import crd_schema_dir, is_custom, validate_custom
from flowllama.devtools.helm_tool import KUBE_VERSIONS, helm_lint, validate_objects
from flowllama.devtools.tools_cache import ToolUnavailable


@pytest.fixture(scope="module")
def crd_schemas() -> Path:
    try:
        return crd_schema_dir()
    except ToolUnavailable as exc:
        unavailable(str(exc))


def test_ci_values_cover_the_tested_combinations() -> None:
    assert {"default-values", "existing-secret-values", "ollama-values",
            "loadtest-s3-values"} <= set(CI_VALUES)


@pytest.mark.parametrize("values", CI_VALUES)
def test_lint_strict(helm: Path, values: str) -> None:
    result = helm_lint(CHART, [CHART / "ci" / f"{values}.yaml"], helm=helm)
    assert result.ok, result.stdout + result.stderr


@pytest.mark.parametrize("values", CI_VALUES)
def test_every_object_passes_kubernetes_validate(render: Callable[[str], Objects],
                                                 values: str) -> None:
    builtin = [o for o in render(values) if not is_custom(o)]
    assert builtin
    assert validate_objects(builtin, KUBE_VERSIONS) == []


def test_custom_resources_pass_their_crd_schemas(render: Callable[[str], Objects],
                                                 crd_schemas: Path) -> None:
    custom = [o for o in render("ollama-values") if is_custom(o)]
    assert sorted(o["kind"] for o in custom) == ["PrometheusRule", "ServiceMonitor"]
    for obj in custom:
        assert validate_custom(obj, crd_schemas) == []


def test_crd_schemas_are_strict(render: Callable[[str], Objects], crd_schemas: Path) -> None:
    monitor = next(o for o in render("ollama-values") if o["kind"] == "ServiceMonitor")
    broken = {**monitor, "spec": {**monitor["spec"], "endpoint": monitor["spec"]["endpoints"]}}
    problems = validate_custom(broken, crd_schemas)
    assert any("'endpoint' was unexpected" in p for p in problems), problems
