"""The chart under test and helpers to pick rendered objects apart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHART = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "flowllama"
CI_VALUES = sorted(path.stem for path in (CHART / "ci").glob("*.yaml"))
Objects = list[dict[str, Any]]


def unavailable(reason: str) -> NoReturn:
    """Skip outside CI, fail under CI: a check must never vanish silently there."""
    if os.environ.get("CI"):
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


def by_kind(objects: Objects, kind: str) -> dict[str, dict[str, Any]]:
    """The objects of one kind by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_specs(objects: Objects) -> dict[str, dict[str, Any]]:
    """Every pod template's spec, by ``Kind/name``."""
    specs: dict[str, dict[str, Any]] = {}
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            specs[f"{obj['kind']}/{obj['metadata']['name']}"] = spec["template"]["spec"]
        elif obj["kind"] == "CronJob":
            specs[f"CronJob/{obj['metadata']['name']}"] = \
                spec["jobTemplate"]["spec"]["template"]["spec"]
    return specs
