"""The metric names deploy/monitoring refers to: in alert and recording rule expressions and
in every Grafana dashboard query (shared by the rule checks and the running-platform check)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

MONITORING = Path(__file__).resolve().parents[3] / "deploy" / "monitoring"
RULE_FILES = sorted((MONITORING / "prometheus").glob("*-rules.yml"))
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
_METRIC = re.compile(r"\b(flowllama_[a-z0-9_]+)")
_RECORDED = re.compile(r"\b(flowllama:[a-z0-9_:]+)")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def rules() -> list[dict[str, str]]:
    """Every rule of every rule file."""
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


def dashboard_queries() -> dict[str, list[str]]:
    """Each dashboard's file name and the PromQL of its panels' targets."""
    return {path.name: [target["expr"] for panel in json.loads(path.read_text())["panels"]
                        for target in panel["targets"]] for path in DASHBOARDS}


def family(name: str) -> str:
    """The metric family a sample name belongs to (``x_bucket`` -> ``x``, ``y_total`` -> ``y``)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def referenced() -> tuple[set[str], set[str]]:
    """(metric families, recorded series) named anywhere in the rules and dashboards."""
    texts = [rule["expr"] for rule in rules()]
    texts += [query for queries in dashboard_queries().values() for query in queries]
    metrics = {family(name) for text in texts for name in _METRIC.findall(text)}
    recorded = {name for text in texts for name in _RECORDED.findall(text)}
    return metrics, recorded
