"""checkov's Kubernetes policies over the chart (``--framework helm``, rendered by the offline
helm with the fullest ci values): no finding except the ids in the chart's
``checkov-skips.yaml``, each of which carries its reason and is still needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy.helm.chart_objects import CHART, unavailable
from flowllama.devtools.checkov_scan import ensure_checkov, scan
from flowllama.devtools.tools_cache import ToolUnavailable

SKIPS = CHART / "checkov-skips.yaml"

# Building checkov's venv (first use only) takes about two minutes on two cores.
pytestmark = pytest.mark.timeout(1200)


def _skips() -> dict[str, str]:
    return {str(k): str(v) for k, v in (yaml.safe_load(SKIPS.read_text()) or {}).items()}


def test_every_skip_has_a_reason() -> None:
    skips = _skips()
    assert skips
    assert all(check.startswith("CKV_K8S_") and len(reason.split()) >= 8
               for check, reason in skips.items()), skips


def test_checkov_helm_is_clean(helm: Path) -> None:
    try:
        python = ensure_checkov()
    except ToolUnavailable as exc:
        unavailable(str(exc))
    findings = scan(CHART, python, framework="helm", tool_dir=helm.parent, extra_args=[
        "--var-file", str(CHART / "ci" / "ollama-values.yaml")])
    skips = _skips()
    assert [str(f) for f in findings if f.check_id not in skips] == []
    # Every listed skip is still needed (checkov really scanned the rendered chart).
    assert {f.check_id for f in findings} == set(skips)
