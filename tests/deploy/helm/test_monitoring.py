"""The chart ships deploy/monitoring as it is tested there: the PrometheusRule carries every
recording and alerting rule (the spend budget from values), and each Grafana dashboard becomes
a ConfigMap labelled for Grafana's dashboard sidecar; the chart's copy of deploy/monitoring is
kept current."""

from __future__ import annotations

import json
from collections.abc import Callable

from deploy.helm.chart_objects import CHART, Objects, by_kind
from deploy.monitoring.queries import DASHBOARDS, MONITORING, RULE_FILES, rules


def _rule_object(render: Callable[[str], Objects]) -> dict[str, object]:
    (rule,) = by_kind(render("ollama-values"), "PrometheusRule").values()
    return rule


def test_the_prometheus_rule_carries_every_tested_rule(render: Callable[[str], Objects]) -> None:
    spec = _rule_object(render)["spec"]
    assert isinstance(spec, dict)
    shipped = {rule.get("alert") or rule.get("record"): rule
               for group in spec["groups"] for rule in group["rules"]}
    for rule in rules():
        name = rule.get("alert") or rule.get("record")
        assert name in shipped, f"{name} is not in the chart's PrometheusRule"
        if name != "flowllama:spend_budget_usd_per_hour":
            assert shipped[name] == rule, name
    # The budget comes from values (ci/ollama-values.yaml sets 120), the rest is untouched.
    assert shipped["flowllama:spend_budget_usd_per_hour"]["expr"] == "vector(120)"
    # Alert templates reach Prometheus as written (Helm must not render them).
    assert "{{ $value" in str(shipped["FlowLlamaDeadLetters"]["annotations"])
    assert "FlowLlamaTargetDown" in shipped


def test_each_dashboard_is_a_sidecar_config_map(render: Callable[[str], Objects]) -> None:
    maps = {name: obj for name, obj in by_kind(render("ollama-values"), "ConfigMap").items()
            if "-dashboard-" in name}
    assert len(maps) == len(DASHBOARDS)
    for path in DASHBOARDS:
        (config_map,) = [m for name, m in maps.items() if name.endswith(f"-dashboard-{path.stem}")]
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        (text,) = config_map["data"].values()
        assert json.loads(text) == json.loads(path.read_text())


def test_dashboards_and_rules_are_off_by_default(render: Callable[[str], Objects]) -> None:
    objects = render("default-values")
    assert not by_kind(objects, "PrometheusRule")
    assert not [name for name in by_kind(objects, "ConfigMap") if "-dashboard-" in name]


def test_the_chart_copy_of_deploy_monitoring_is_current() -> None:
    # A chart must be self-contained (helm package, checkov's render), so it carries copies.
    copies = CHART / "files" / "monitoring"
    for source in [*RULE_FILES, *DASHBOARDS]:
        copy = copies / source.relative_to(MONITORING)
        assert copy.is_file() and copy.read_bytes() == source.read_bytes(), (
            f"copy {source.relative_to(MONITORING.parent.parent)} to {copy}")
